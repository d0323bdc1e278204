package store_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/chatzilla/chatzilla/store"
	"github.com/chatzilla/chatzilla/store/storetest"
)

// benchBackends opens each store on a fresh database for a benchmark.
func benchBackends(b *testing.B, run func(b *testing.B, st backend)) {
	b.Run("sqlite", func(b *testing.B) {
		st, err := store.OpenSQLite(context.Background(), storetest.SQLitePath(b))
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		run(b, st)
	})
	b.Run("postgres", func(b *testing.B) {
		st, err := store.OpenPostgres(context.Background(), storetest.PostgresURL(b))
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		run(b, st)
	})
}

// BenchmarkAddMessage is one durable append, from 1 and from 16 posters at
// once (concurrent posts are what group commits would gather).
func BenchmarkAddMessage(b *testing.B) {
	benchBackends(b, func(b *testing.B, st backend) {
		for _, posters := range []int{1, 16} {
			b.Run(fmt.Sprintf("posters=%d", posters), func(b *testing.B) {
				add := func() error {
					_, err := st.AddMessage(context.Background(), "ann@example.com", "hello, benchmark")
					return err
				}
				b.ReportAllocs()
				if posters == 1 {
					for b.Loop() {
						if err := add(); err != nil {
							b.Fatal(err)
						}
					}
					return
				}
				// RunParallel starts parallelism × GOMAXPROCS goroutines.
				b.SetParallelism(max(1, posters/runtime.GOMAXPROCS(0)))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := add(); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	})
}

// BenchmarkMessagesAfter is a stream's replay read: 100 messages after an id.
func BenchmarkMessagesAfter(b *testing.B) {
	benchBackends(b, func(b *testing.B, st backend) {
		for range 1000 {
			if _, err := st.AddMessage(context.Background(), "ann@example.com", "hello, benchmark"); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			ms, err := st.MessagesAfter(context.Background(), int64(i%900), 100)
			if err != nil || len(ms) != 100 {
				b.Fatalf("%d messages, %v", len(ms), err)
			}
		}
	})
}

// BenchmarkRoomsOf is people's sidebars: their rooms with unread counts,
// read for every person whose first stream opens. Each of 256 people is in
// general and three rooms of 50 messages each, none read: one person read
// alone (a page), and all of them in one statement (a crowd reconnecting
// after a restart), with the cost per person.
func BenchmarkRoomsOf(b *testing.B) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, storetest.SQLitePath(b))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	people := make([]string, 256)
	for i := range people {
		people[i] = fmt.Sprintf("p%03d@example.com", i)
	}
	for i := range 3 {
		r, err := st.CreateRoom(ctx, store.Room{Slug: fmt.Sprint("room-", i), Name: fmt.Sprint("room ", i), Kind: store.RoomOpen, CreatedBy: people[0]}, people[1:])
		if err != nil {
			b.Fatal(err)
		}
		for range 50 {
			if _, err := st.AddMessageIn(ctx, r.ID, store.Author{Email: "bob@example.com"}, "hello", ""); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("one", func(b *testing.B) {
		for b.Loop() {
			if rooms, err := st.RoomsOf(ctx, people[0]); err != nil || len(rooms) != 4 {
				b.Fatal(rooms, err)
			}
		}
	})
	b.Run("256_people", func(b *testing.B) {
		for b.Loop() {
			if rooms, err := st.RoomsOfMany(ctx, people); err != nil || len(rooms) != len(people) {
				b.Fatal(len(rooms), err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(people)), "ns/person")
	})
}
