package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// notifyChannel carries the id of each new message, committed with it.
const notifyChannel = "chatzilla_messages"

// Keys for pg_advisory_xact_lock. Advisory locks belong to the database, not
// to a schema, so apps in different schemas of one database share them; that
// only serialises a little more than needed.
const (
	migrateLockKey int64 = 0x63687a_6d6967 // "chz" "mig"
	insertLockKey  int64 = 0x63687a_696e73 // "chz" "ins"
)

// postgresMigrations are applied in order, each recorded in
// chatzilla_migrations. Append only: never edit a step that has shipped.
// Table names are unqualified so the connection's search_path picks the schema.
var postgresMigrations = []string{
	`CREATE TABLE messages (
		id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		sender     TEXT        NOT NULL,
		content    TEXT        NOT NULL,
		created_at TIMESTAMPTZ NOT NULL DEFAULT now()
	)`,
	`CREATE TABLE presence (
		instance TEXT        NOT NULL,
		email    TEXT        NOT NULL,
		seen_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
		PRIMARY KEY (instance, email)
	)`,
	// The sender's one-time key for the message (see AddMessageOnce); NULL
	// for messages posted without one, which a unique index never compares.
	`ALTER TABLE messages ADD COLUMN send_key TEXT`,
	`CREATE UNIQUE INDEX messages_sender_send_key ON messages (sender, send_key)`,
	`CREATE TABLE sessions (
		id           TEXT        PRIMARY KEY,
		email        TEXT        NOT NULL,
		created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
		last_seen_at TIMESTAMPTZ NOT NULL DEFAULT now(),
		ended_at     TIMESTAMPTZ -- NULL while the session is open
	)`,
	`CREATE INDEX sessions_email ON sessions (email)`,
	`CREATE INDEX sessions_ended_at ON sessions (ended_at)`,
	// Sign-in by an emailed link (issue 15). A constant default makes
	// ADD COLUMN a catalogue change: no table rewrite, however many
	// messages there are. Rows from before are unverified and nameless.
	`ALTER TABLE sessions ADD COLUMN verified BOOLEAN NOT NULL DEFAULT false`,
	`ALTER TABLE messages ADD COLUMN sender_name TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE messages ADD COLUMN verified BOOLEAN NOT NULL DEFAULT false`,
	`CREATE TABLE sign_in_tokens (
		hash       TEXT        PRIMARY KEY, -- hex SHA-256 of the token; the token is never stored
		email      TEXT        NOT NULL,
		created_at TIMESTAMPTZ NOT NULL,
		expires_at TIMESTAMPTZ NOT NULL,
		used_at    TIMESTAMPTZ -- NULL until used
	)`,
	`CREATE INDEX sign_in_tokens_email_created_at ON sign_in_tokens (email, created_at)`,
	`CREATE INDEX sign_in_tokens_expires_at ON sign_in_tokens (expires_at)`,
	`CREATE TABLE people (
		email       TEXT        PRIMARY KEY,
		name        TEXT        NOT NULL DEFAULT '',
		name_key    TEXT, -- NULL while nameless; unique, so no two people share a name
		verified_at TIMESTAMPTZ, -- NULL until first signed in by an emailed link
		updated_at  TIMESTAMPTZ NOT NULL
	)`,
	`CREATE UNIQUE INDEX people_name_key ON people (name_key)`,
}

// Postgres is the store shared by several app instances.
type Postgres struct {
	pool *pgPool
	// followConfig opens Follow's own connections: LISTEN belongs to one
	// session, so it cannot live on a pool connection that others reuse.
	followConfig *pgx.ConnConfig
	followerName string
	followIdle   time.Duration // followIdleCheck; a field so a test can shorten it
	log          *slog.Logger  // where Follow reports its connection's ups and downs

	// closed ends every running Follow when Close is called, so a follower
	// does not go on reconnecting to a store its owner has let go of.
	closed    context.Context
	markClose context.CancelFunc
	closeOnce sync.Once

	writes groupWriter
}

// OpenPostgres connects to the database at url (postgres:// or postgresql://,
// as Heroku and most hosts give it) and brings its schema up to date. Several
// instances may call it at once on an empty database.
func OpenPostgres(ctx context.Context, url string) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}

	// The random part tells one instance's followers from another's in
	// pg_stat_activity, even when they share a database and a host. An
	// application_name given in the URL is kept as the prefix, so an operator
	// (or a test) can find a deployment's followers.
	app := cfg.ConnConfig.RuntimeParams["application_name"]
	if app == "" {
		app = "chatzilla"
	}
	name := app + "-follow-" + strings.ToLower(rand.Text()[:12])
	followConfig := cfg.ConnConfig.Copy()
	followConfig.RuntimeParams["application_name"] = name

	pool, err := newPGPool(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	if err := migratePostgres(ctx, pool.Pool, postgresMigrations); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}

	closed, markClose := context.WithCancel(context.Background())
	p := &Postgres{
		pool:         pool,
		followConfig: followConfig,
		followerName: name,
		followIdle:   followIdleCheck,
		log:          slog.New(slog.DiscardHandler),
		closed:       closed,
		markClose:    markClose,
	}
	p.writes.start(p.commit)
	return p, nil
}

// migratePostgres applies the steps the database has not had yet. Steps is
// postgresMigrations; a test passes a prefix of it to make a database as an
// earlier build left it.
func migratePostgres(ctx context.Context, pool *pgxpool.Pool, steps []string) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback(ctx) // after Commit a no-op; on a cancelled ctx pgx drops the connection

	// Instances starting together would race to create the same tables and
	// one would fail on a duplicate; the lock makes the others wait, then find
	// the work done.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLockKey); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS chatzilla_migrations (
		version    INTEGER     PRIMARY KEY,
		applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
	)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var version int
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM chatzilla_migrations`).Scan(&version); err != nil {
		return fmt.Errorf("migrate: read version: %w", err)
	}
	if version > len(steps) {
		return fmt.Errorf("migrate: database is at schema version %d, this build knows only %d", version, len(steps))
	}
	for v := version + 1; v <= len(steps); v++ {
		if _, err := tx.Exec(ctx, steps[v-1]); err != nil {
			return fmt.Errorf("migrate: step %d: %w", v, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO chatzilla_migrations (version) VALUES ($1)`, v); err != nil {
			return fmt.Errorf("migrate: record step %d: %w", v, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// LogTo makes Follow report on l when its connection is lost and when it
// is back (by default it reports nothing). Call it before Follow.
func (p *Postgres) LogTo(l *slog.Logger) { p.log = l }

// AddMessage stores a message and notifies every follower, in one
// transaction; when it returns nil the message is committed. Posts arriving
// while a commit is in progress share the next one (see groupWriter).
func (p *Postgres) AddMessage(ctx context.Context, sender, content string) (Message, error) {
	return p.writes.add(ctx, Author{Email: sender}, content, "")
}

// AddMessageOnce is AddMessage for a message with the sender's one-time key:
// if the sender already has a message stored under key, it stores nothing
// and returns an error wrapping ErrAlreadyStored. An empty key is no key.
func (p *Postgres) AddMessageOnce(ctx context.Context, sender, content, key string) (Message, error) {
	return p.AddMessageAs(ctx, Author{Email: sender}, content, key)
}

// AddMessageAs is AddMessageOnce for an author shown with a display name or
// a verified mark, which the message keeps. The key is the author's email's:
// a new name does not make a used key new.
func (p *Postgres) AddMessageAs(ctx context.Context, a Author, content, key string) (Message, error) {
	if err := checkKey(key); err != nil {
		return Message{}, err
	}
	return p.writes.add(ctx, a, content, key)
}

// commit stores a group in one transaction, sent as one pipelined batch.
// Until COMMIT is sent the transaction cannot have committed: when the
// connection is lost before that (a terminated backend, a restart), the
// server has rolled it back and the group goes again on another connection.
// A failed COMMIT is never sent again: its outcome may be unknown.
func (p *Postgres) commit(group []*addRequest) ([]Message, error) {
	ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
	defer cancel()
	var msgs []Message
	err := p.pool.run(ctx, false, func(c *pgxpool.Conn) (err error) {
		msgs, err = p.commitOn(ctx, c, group)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: add message: %w", err)
	}
	return msgs, nil
}

// commitOn is one attempt of commit, on c. An error that leaves the group
// safe to send again is wrapped in noEffect.
func (p *Postgres) commitOn(ctx context.Context, c *pgxpool.Conn, group []*addRequest) ([]Message, error) {
	lost := func(err error) error {
		if c.Conn().IsClosed() {
			return noEffect{err}
		}
		return err
	}
	tx, err := c.Begin(ctx)
	if err != nil {
		return nil, lost(err)
	}
	defer tx.Rollback(ctx)

	// Ids come from a sequence when the insert runs, but transactions commit
	// in their own order: without this lock id 7 could become visible after
	// id 8, and a reader that had already moved past 8 would never see 7.
	// Holding one lock from before the inserts until commit makes commits
	// happen in id order. Commits from all instances are serialised, but
	// each carries every post that waited for it.
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock($1)`, insertLockKey)
	msgs := make([]Message, len(group))
	for i, r := range group {
		// clock_timestamp, not the default now(): now() is when the
		// transaction began, before it waited for the lock, so times would
		// not follow ids.
		// A key already used makes the insert do nothing and return no
		// row; the message then keeps ID 0.
		a := r.author
		b.Queue(`INSERT INTO messages (sender, content, created_at, send_key, sender_name, verified)
			VALUES ($1, $2, clock_timestamp(), $3, $4, $5)
			ON CONFLICT (sender, send_key) DO NOTHING
			RETURNING `+postgresColumns, a.Email, r.content, nullable(r.key), a.Name, a.Verified).QueryRow(func(row pgx.Row) error {
			err := scanMessage(row, &msgs[i])
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			return err
		})
	}
	// Sent on commit, and only then: a follower never hears of a row it
	// cannot read yet. The payload, the last id taken (currval is this
	// session's; an insert that did nothing took one too), is a hint;
	// followers read the table.
	b.Queue(`SELECT pg_notify($1, currval(pg_get_serial_sequence('messages', 'id'))::text)`, notifyChannel)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, lost(err)
	}
	if err := tx.Commit(ctx); err != nil {
		// The server may have committed and the answer been lost with the
		// connection; only an error the server sent says it did not.
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Severity == "ERROR" {
			return nil, fmt.Errorf("commit: %w", err)
		}
		return nil, fmt.Errorf("commit: %w: %w", ErrOutcomeUnknown, err)
	}
	for i := range msgs {
		msgs[i].CreatedAt = msgs[i].CreatedAt.UTC()
	}
	return msgs, nil
}

// Ping checks that the database answers.
func (p *Postgres) Ping(ctx context.Context) error {
	if err := p.pool.Ping(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// Close ends every Follow on this store and closes the pool, waiting for
// connections in use to be released. Calling it again does nothing.
func (p *Postgres) Close() error {
	p.closeOnce.Do(func() {
		p.writes.close()
		p.markClose()
		p.pool.Close()
	})
	return nil
}
