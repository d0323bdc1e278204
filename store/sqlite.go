package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// sqlitePragmas go in the DSN, not in a one-off Exec, so that every
// connection database/sql opens (now or after a reconnect) gets them.
//   - busy_timeout: another process may hold the write lock for a moment
//     (a backup, a second instance during a deploy); wait instead of failing.
//   - journal_mode(WAL): readers never block the writer nor the writer them.
//   - synchronous(FULL): in WAL mode NORMAL can lose the last commits on power
//     loss; an acknowledged message must survive that, not only kill -9.
const sqlitePragmas = "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)"

// sqliteMigrations are applied in order; PRAGMA user_version records how many
// have run. Append only: never edit a step that has shipped.
var sqliteMigrations = []string{
	`CREATE TABLE IF NOT EXISTS messages (
		id         INTEGER PRIMARY KEY AUTOINCREMENT, -- AUTOINCREMENT: ids are never reused
		sender     TEXT    NOT NULL,
		content    TEXT    NOT NULL,
		created_at INTEGER NOT NULL -- unix microseconds, UTC
	)`,
	// The sender's one-time key for the message (see AddMessageOnce); NULL
	// for messages posted without one, which a unique index never compares.
	`ALTER TABLE messages ADD COLUMN send_key TEXT`,
	`CREATE UNIQUE INDEX messages_sender_send_key ON messages (sender, send_key)`,
	`CREATE TABLE sessions (
		id           TEXT    PRIMARY KEY,
		email        TEXT    NOT NULL,
		created_at   INTEGER NOT NULL, -- unix microseconds, UTC, as all times here
		last_seen_at INTEGER NOT NULL,
		ended_at     INTEGER           -- NULL while the session is open
	)`,
	`CREATE INDEX sessions_email ON sessions (email)`,
	`CREATE INDEX sessions_ended_at ON sessions (ended_at)`,
	// Sign-in by an emailed link (issue 15). Rows from before are
	// unverified and nameless. Booleans are INTEGER 0 or 1.
	`ALTER TABLE sessions ADD COLUMN verified INTEGER NOT NULL DEFAULT 0`,
	`ALTER TABLE messages ADD COLUMN sender_name TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE messages ADD COLUMN verified INTEGER NOT NULL DEFAULT 0`,
	`CREATE TABLE sign_in_tokens (
		hash       TEXT    PRIMARY KEY, -- hex SHA-256 of the token; the token is never stored
		email      TEXT    NOT NULL,
		created_at INTEGER NOT NULL,
		expires_at INTEGER NOT NULL,
		used_at    INTEGER -- NULL until used
	)`,
	`CREATE INDEX sign_in_tokens_email_created_at ON sign_in_tokens (email, created_at)`,
	`CREATE INDEX sign_in_tokens_expires_at ON sign_in_tokens (expires_at)`,
	`CREATE TABLE people (
		email       TEXT    PRIMARY KEY,
		name        TEXT    NOT NULL DEFAULT '',
		name_key    TEXT,   -- NULL while nameless; unique, so no two people share a name
		verified_at INTEGER, -- NULL until first signed in by an emailed link
		updated_at  INTEGER NOT NULL
	)`,
	`CREATE UNIQUE INDEX people_name_key ON people (name_key)`,
	// Rooms (issue 16). AUTOINCREMENT records general's id 1 in
	// sqlite_sequence, so new rooms start at 2 and an id is never reused.
	`CREATE TABLE rooms (
		id         INTEGER PRIMARY KEY AUTOINCREMENT,
		slug       TEXT    NOT NULL UNIQUE,
		name       TEXT    NOT NULL, -- '' for a direct room
		kind       TEXT    NOT NULL CHECK (kind IN ('open', 'private', 'direct')),
		created_by TEXT    NOT NULL, -- email; '' for general
		created_at INTEGER NOT NULL
	)`,
	`INSERT INTO rooms (id, slug, name, kind, created_by, created_at)
		VALUES (1, 'general', 'general', 'open', '', CAST(strftime('%s', 'now') AS INTEGER) * 1000000)`,
	// Every message from before rooms is in general. No REFERENCES: rooms
	// are never deleted, and a foreign key failing inside a group commit
	// would fail every post of the group, not only the bad one.
	`ALTER TABLE messages ADD COLUMN room_id INTEGER NOT NULL DEFAULT 1`,
	// general's membership is implicit; its rows only hold last_read.
	`CREATE TABLE room_members (
		room_id   INTEGER NOT NULL REFERENCES rooms (id),
		email     TEXT    NOT NULL,
		last_read INTEGER NOT NULL DEFAULT 0, -- id of the last message read in the room; 0: none
		joined_at INTEGER NOT NULL,
		PRIMARY KEY (room_id, email)
	)`,
	// A room's page, its stream's catch-up and its unread count all read
	// one room's messages by id.
	`CREATE INDEX messages_room_id_id ON messages (room_id, id)`,
	// RoomsOf and RoomsOfMany: people's rooms.
	`CREATE INDEX room_members_email ON room_members (email)`,
	// Who was online when the last process stopped, for the next to take
	// over (see KeepOnline).
	`CREATE TABLE presence_kept (
		email   TEXT    PRIMARY KEY,
		kept_at INTEGER NOT NULL
	)`,
	// An unread count skips the reader's own messages: with the sender in
	// the room's index it reads the index alone, not each message's row as
	// well (BenchmarkRoomsOf/one, a sidebar of 4 rooms with 150 unread: 52
	// µs, 43 with this index). It serves all the old index did.
	`CREATE INDEX messages_room_id_id_sender ON messages (room_id, id, sender)`,
	`DROP INDEX messages_room_id_id`,
}

// SQLite is the single-instance store: one database file on local disk.
type SQLite struct {
	// writer has exactly one connection. SQLite allows one writer at a time;
	// queuing posts here in database/sql is cheaper and fairer than letting
	// several connections collide and retry on SQLITE_BUSY.
	writer *sql.DB
	// reader is a pool: in WAL mode reads run alongside the writer.
	reader *sql.DB

	writes  groupWriter
	follow  localFollower
	changes changeHandlers
	// reads runs reads on reader through statements parsed once.
	reads readStmts
	// sessions and touches read and touch the sessions of concurrent
	// requests together.
	sessions *batch[string, Session]
	touches  *batch[string, struct{}]
}

// OpenSQLite opens (creating if needed) the database file at path and brings
// its schema up to date.
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	if path == "" {
		return nil, errors.New("store: open sqlite: empty path")
	}
	// Processes opening a new database file together race to switch it to
	// WAL, and SQLite reports the loser's conflict as SQLITE_BUSY without
	// waiting on busy_timeout: try again for a while.
	giveUp := time.Now().Add(10 * time.Second)
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, 500*time.Millisecond) {
		s, err := openSQLite(ctx, path)
		if err == nil || !strings.Contains(err.Error(), "SQLITE_BUSY") || time.Now().After(giveUp) {
			return s, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
	}
}

func openSQLite(ctx context.Context, path string) (*SQLite, error) {
	dsn := sqliteDSN(path)

	// BEGIN IMMEDIATE takes the write lock when the transaction starts, so the
	// created_at read inside it cannot be overtaken by another process's
	// commit, and a busy database is reported at BEGIN rather than mid-way.
	writer, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	writer.SetMaxOpenConns(1)
	if err := writer.PingContext(ctx); err != nil {
		writer.Close()
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	if err := migrateSQLite(ctx, writer, sqliteMigrations); err != nil {
		writer.Close()
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}

	reader, err := sql.Open("sqlite", dsn)
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	// Reads are CPU-bound inside this process; more connections than CPUs
	// only add page caches.
	reader.SetMaxOpenConns(max(4, runtime.NumCPU()))
	if err := reader.PingContext(ctx); err != nil {
		writer.Close()
		reader.Close()
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	s := &SQLite{writer: writer, reader: reader, reads: readStmts{db: reader}}
	s.sessions = newBatch(sessionBatch, 2, s.sessionsIn)
	s.touches = newBatch(sessionBatch, 1, s.touchSessions)
	s.startWriting()
	return s, nil
}

// sqliteDSN builds a modernc "file:" URI. SQLite decodes %XX in the path and
// would cut it at a bare '?' or '#', so those are escaped.
func sqliteDSN(path string) string {
	escaped := strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(path)
	return "file:" + escaped + "?" + sqlitePragmas
}

// migrateSQLite applies the steps the database has not had yet. Steps is
// sqliteMigrations; a test passes a prefix of it to make a database as an
// earlier build left it.
func migrateSQLite(ctx context.Context, db *sql.DB, steps []string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()

	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("migrate: read version: %w", err)
	}
	if version > len(steps) {
		return fmt.Errorf("migrate: database is at schema version %d, this build knows only %d", version, len(steps))
	}
	if version == len(steps) {
		return nil
	}
	for i := version; i < len(steps); i++ {
		if _, err := tx.ExecContext(ctx, steps[i]); err != nil {
			return fmt.Errorf("migrate: step %d: %w", i+1, err)
		}
	}
	// PRAGMA takes no bound parameters; the value is an int we control.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(steps))); err != nil {
		return fmt.Errorf("migrate: set version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// sqliteColumns are what query scans, in its order.
const sqliteColumns = messageColumns

// MessagesAfter returns up to limit of general's messages with id >
// afterID, oldest first: the chat's one room before there were rooms keeps
// the reads it had.
func (s *SQLite) MessagesAfter(ctx context.Context, afterID int64, limit int) ([]Message, error) {
	return s.RoomMessagesAfter(ctx, GeneralID, afterID, limit)
}

// RecentMessages returns general's latest limit messages, oldest first.
func (s *SQLite) RecentMessages(ctx context.Context, limit int) ([]Message, error) {
	return s.RoomRecentMessages(ctx, GeneralID, limit)
}

// MessagesBefore returns general's latest limit messages with id <
// beforeID, oldest first: the page above the oldest one a reader already
// has.
func (s *SQLite) MessagesBefore(ctx context.Context, beforeID int64, limit int) ([]Message, error) {
	return s.RoomMessagesBefore(ctx, GeneralID, beforeID, limit)
}

// LogBefore returns the latest limit messages of every room with id <
// beforeID, oldest first: the end of the log, which a new process keeps in
// memory.
func (s *SQLite) LogBefore(ctx context.Context, beforeID int64, limit int) ([]Message, error) {
	const op = "log before"
	if err := checkLimit(op, limit); err != nil {
		return nil, err
	}
	msgs, err := s.query(ctx, op,
		`SELECT `+sqliteColumns+` FROM messages WHERE id < ? ORDER BY id DESC LIMIT ?`, beforeID, limit)
	return oldestFirst(msgs), err
}

// RoomCountAfter counts the room's messages with id > afterID, up to limit.
func (s *SQLite) RoomCountAfter(ctx context.Context, roomID, afterID int64, limit int) (int, error) {
	var n int
	if err := s.reads.QueryRowContext(ctx, sqliteParams(selectRoomCountAfter), roomID, afterID, limit).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: room count after: %w", err)
	}
	return n, nil
}

// LastID returns the highest stored message id, 0 when there are none.
func (s *SQLite) LastID(ctx context.Context) (int64, error) {
	var id int64
	if err := s.reads.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM messages`).Scan(&id); err != nil {
		return 0, fmt.Errorf("store: last id: %w", err)
	}
	return id, nil
}

// Ping checks that the database can be read. It uses the read pool so a health
// check never queues behind a slow write.
func (s *SQLite) Ping(ctx context.Context) error {
	if err := s.reader.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// Close stops the writer, ends Follow and closes both connection pools.
func (s *SQLite) Close() error {
	s.writes.close()
	if err := errors.Join(s.reads.close(), s.writer.Close(), s.reader.Close()); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

func (s *SQLite) query(ctx context.Context, op, query string, args ...any) ([]Message, error) {
	rows, err := s.reads.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	defer rows.Close()

	msgs := []Message{} // not nil: callers may encode it, and [] reads better than null
	for rows.Next() {
		var m Message
		var micros int64
		if err := rows.Scan(&m.ID, &m.RoomID, &m.Sender, &m.Content, &micros, &m.SenderName, &m.Verified); err != nil {
			return nil, fmt.Errorf("store: %s: %w", op, err)
		}
		m.CreatedAt = time.UnixMicro(micros).UTC()
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	return msgs, nil
}
