package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// KeepOnline records that these people were online as this process
// stopped, in place of what was kept before, for the process that replaces
// it to take (see TakeOnline): their pages reconnect to it, and should not
// be announced as joining again.
func (s *SQLite) KeepOnline(ctx context.Context, emails []string) error {
	list, err := json.Marshal(emails)
	if err != nil {
		return fmt.Errorf("store: keep online: %w", err)
	}
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM presence_kept`); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO presence_kept (email, kept_at)
			SELECT DISTINCT value, ? FROM json_each(?) WHERE value IS NOT NULL`, time.Now().UnixMicro(), string(list))
		return err
	})
	if err != nil {
		return fmt.Errorf("store: keep online: %w", err)
	}
	return nil
}

// TakeOnline returns who was kept at or after since, and forgets everyone
// kept, so that a list is taken over once.
func (s *SQLite) TakeOnline(ctx context.Context, since time.Time) ([]string, error) {
	var emails []string
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT email FROM presence_kept WHERE kept_at >= ? ORDER BY email`, since.UnixMicro())
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e string
			if err := rows.Scan(&e); err != nil {
				return err
			}
			emails = append(emails, e)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM presence_kept`)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: take online: %w", err)
	}
	return emails, nil
}
