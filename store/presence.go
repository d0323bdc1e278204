package store

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// presenceTTL is how long an instance's presence records count without a
// refresh. Instances refresh every few seconds; one that stopped (crashed,
// or cut off) drops out of "who's online" after this.
const presenceTTL = 45 * time.Second

// PresenceDirectory is the shared record of who is online on which
// instance, for the chat's "who's online" list across instances.
type PresenceDirectory struct {
	p        *Postgres
	instance string
}

// Presence returns the directory as seen by one instance, named uniquely.
func (p *Postgres) Presence(instance string) *PresenceDirectory {
	return &PresenceDirectory{p: p, instance: instance}
}

// Arrive records that this instance has these people online.
func (d *PresenceDirectory) Arrive(ctx context.Context, emails []string) error {
	_, err := d.p.pool.Exec(ctx, `INSERT INTO presence (instance, email)
		SELECT $1, e FROM (SELECT DISTINCT unnest($2::text[]) AS e) AS emails
		ON CONFLICT (instance, email) DO UPDATE SET seen_at = now()`, d.instance, emails)
	if err != nil {
		return fmt.Errorf("store: presence arrive: %w", err)
	}
	return nil
}

// Depart records that this instance no longer has these people online.
func (d *PresenceDirectory) Depart(ctx context.Context, emails []string) error {
	_, err := d.p.pool.Exec(ctx, `DELETE FROM presence WHERE instance = $1 AND email = ANY($2)`, d.instance, emails)
	if err != nil {
		return fmt.Errorf("store: presence depart: %w", err)
	}
	return nil
}

// Refresh records that this instance has exactly the people in here, and
// forgets instances whose records have expired.
func (d *PresenceDirectory) Refresh(ctx context.Context, here []string) error {
	if err := d.refresh(ctx, here); err != nil {
		return fmt.Errorf("store: presence refresh: %w", err)
	}
	return nil
}

func (d *PresenceDirectory) refresh(ctx context.Context, here []string) error {
	tx, err := d.p.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if here == nil {
		here = []string{}
	}
	steps := []struct {
		sql  string
		args []any
	}{
		{`DELETE FROM presence WHERE instance = $1 AND NOT (email = ANY($2))`, []any{d.instance, here}},
		{`INSERT INTO presence (instance, email) SELECT $1, unnest($2::text[])
			ON CONFLICT (instance, email) DO UPDATE SET seen_at = now()`, []any{d.instance, here}},
		{`DELETE FROM presence WHERE seen_at < now() - make_interval(secs => $1)`, []any{presenceTTL.Seconds()}},
	}
	for _, step := range steps {
		if _, err := tx.Exec(ctx, step.sql, step.args...); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

// Linger has this instance's records expire in lasting (at most
// presenceTTL) instead of at the next refresh: an instance that stops
// leaves its people counted as online while their pages reconnect
// elsewhere. One statement over the instance's rows, which are already
// there: after a restart's crowd that is 10,000 of them, and the listener
// waits for it.
func (d *PresenceDirectory) Linger(ctx context.Context, lasting time.Duration) error {
	_, err := d.p.pool.Exec(ctx, `UPDATE presence SET seen_at = now() - make_interval(secs => $2) WHERE instance = $1`,
		d.instance, (presenceTTL - min(lasting, presenceTTL)).Seconds())
	if err != nil {
		return fmt.Errorf("store: presence linger: %w", err)
	}
	return nil
}

// Online is everyone online on any instance, sorted.
func (d *PresenceDirectory) Online(ctx context.Context) ([]string, error) {
	rows, err := d.p.pool.Query(ctx, `SELECT DISTINCT email FROM presence
		WHERE seen_at > now() - make_interval(secs => $1)`, presenceTTL.Seconds())
	if err != nil {
		return nil, fmt.Errorf("store: presence online: %w", err)
	}
	defer rows.Close()
	online := []string{}
	for rows.Next() {
		var email string
		if err := rows.Scan(&email); err != nil {
			return nil, fmt.Errorf("store: presence online: %w", err)
		}
		online = append(online, email)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: presence online: %w", err)
	}
	// Sorted here, not by the database, so the order is byte order whatever
	// the database's collation: the presence package compares sorted lists.
	slices.Sort(online)
	return online, nil
}
