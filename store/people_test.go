package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/chatzilla/chatzilla/store"
)

// peopleStore is the display name half both backends share.
type peopleStore interface {
	Person(ctx context.Context, email string) (store.Person, error)
	SetDisplayName(ctx context.Context, email, name, nameKey string) error
	MarkVerified(ctx context.Context, email string) error
}

var (
	_ peopleStore = (*store.SQLite)(nil)
	_ peopleStore = (*store.Postgres)(nil)
)

func TestPeople(t *testing.T) {
	// Each step runs in order on one database per backend.
	steps := []struct {
		name         string
		email        string
		setName, key string
		verify       bool
		wantErr      error // nil: no error; errAny: some error, not ErrNameTaken
		wantAnn      store.Person
		wantBob      store.Person
	}{
		{name: "nobody has a name yet",
			wantAnn: store.Person{Email: ann}, wantBob: store.Person{Email: bob}},
		{name: "ann names herself", email: ann, setName: "Ann", key: "ann",
			wantAnn: store.Person{Email: ann, Name: "Ann"}, wantBob: store.Person{Email: bob}},
		{name: "bob cannot take a name with ann's key", email: bob, setName: "ANN", key: "ann", wantErr: store.ErrNameTaken,
			wantAnn: store.Person{Email: ann, Name: "Ann"}, wantBob: store.Person{Email: bob}},
		{name: "ann may set her own name again", email: ann, setName: "ANN", key: "ann",
			wantAnn: store.Person{Email: ann, Name: "ANN"}, wantBob: store.Person{Email: bob}},
		{name: "bob takes another name", email: bob, setName: "Bob", key: "bob",
			wantAnn: store.Person{Email: ann, Name: "ANN"}, wantBob: store.Person{Email: bob, Name: "Bob"}},
		{name: "ann cannot take bob's, and keeps hers", email: ann, setName: "B0b", key: "bob", wantErr: store.ErrNameTaken,
			wantAnn: store.Person{Email: ann, Name: "ANN"}, wantBob: store.Person{Email: bob, Name: "Bob"}},
		{name: "bob is verified, his name stays", email: bob, verify: true,
			wantAnn: store.Person{Email: ann, Name: "ANN"}, wantBob: store.Person{Email: bob, Name: "Bob", Verified: true}},
		{name: "ann moves to a new name", email: ann, setName: "Annie", key: "annie",
			wantAnn: store.Person{Email: ann, Name: "Annie"}, wantBob: store.Person{Email: bob, Name: "Bob", Verified: true}},
		{name: "bob can now take ann's old name", email: bob, setName: "Ann B.", key: "ann",
			wantAnn: store.Person{Email: ann, Name: "Annie"}, wantBob: store.Person{Email: bob, Name: "Ann B.", Verified: true}},
		{name: "bob clears his name and stays verified", email: bob,
			wantAnn: store.Person{Email: ann, Name: "Annie"}, wantBob: store.Person{Email: bob, Verified: true}},
		{name: "ann clears hers: two people without a name", email: ann,
			wantAnn: store.Person{Email: ann}, wantBob: store.Person{Email: bob, Verified: true}},
		{name: "ann takes the freed key", email: ann, setName: "Ann", key: "ann",
			wantAnn: store.Person{Email: ann, Name: "Ann"}, wantBob: store.Person{Email: bob, Verified: true}},
		{name: "verified twice is verified", email: bob, verify: true,
			wantAnn: store.Person{Email: ann, Name: "Ann"}, wantBob: store.Person{Email: bob, Verified: true}},
		{name: "a name without a key", email: bob, setName: "Bob", wantErr: errAny,
			wantAnn: store.Person{Email: ann, Name: "Ann"}, wantBob: store.Person{Email: bob, Verified: true}},
		{name: "a key without a name", email: bob, key: "bob", wantErr: errAny,
			wantAnn: store.Person{Email: ann, Name: "Ann"}, wantBob: store.Person{Email: bob, Verified: true}},
		{name: "a name too long", email: bob, setName: strings.Repeat("b", store.MaxNameLength+1), key: "bob", wantErr: errAny,
			wantAnn: store.Person{Email: ann, Name: "Ann"}, wantBob: store.Person{Email: bob, Verified: true}},
	}
	eachBackend(t, func(t *testing.T, open opener) {
		ctx := t.Context()
		st := mustOpen(t, open).(peopleStore)
		for _, step := range steps {
			var err error
			switch {
			case step.verify:
				err = st.MarkVerified(ctx, step.email)
			case step.email != "":
				err = st.SetDisplayName(ctx, step.email, step.setName, step.key)
			}
			switch {
			case step.wantErr == errAny:
				if err == nil || errors.Is(err, store.ErrNameTaken) || !strings.HasPrefix(err.Error(), "store: ") {
					t.Errorf("%s: err %v, want a store error other than ErrNameTaken", step.name, err)
				}
			case !errors.Is(err, step.wantErr) || (step.wantErr == nil && err != nil):
				t.Errorf("%s: err %v, want %v", step.name, err, step.wantErr)
			}
			for _, want := range []store.Person{step.wantAnn, step.wantBob} {
				if got, err := st.Person(ctx, want.Email); err != nil || got != want {
					t.Errorf("%s: Person(%s) = %+v, %v; want %+v", step.name, want.Email, got, err, want)
				}
			}
		}
	})
}

// errAny in a test table stands for "an error, whichever".
var errAny = errors.New("any error")

// TestNameClaimedAtOnce is several people asking for one name at the same
// moment, through two handles as two instances would: one gets it.
func TestNameClaimedAtOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, open opener) {
		handles := []peopleStore{mustOpen(t, open).(peopleStore), mustOpen(t, open).(peopleStore)}
		const claimants = 12
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, claimants)
		for i := range claimants {
			wg.Go(func() {
				<-start
				errs[i] = handles[i%2].SetDisplayName(t.Context(), fmt.Sprintf("p%d@example.com", i), fmt.Sprint("Zed ", i), "zed")
			})
		}
		close(start)
		wg.Wait()
		var winner string
		for i, err := range errs {
			switch {
			case err == nil && winner != "":
				t.Errorf("p%d and %s both got the name", i, winner)
			case err == nil:
				winner = fmt.Sprintf("p%d@example.com", i)
			case !errors.Is(err, store.ErrNameTaken):
				t.Errorf("p%d: %v, want nil or ErrNameTaken", i, err)
			}
		}
		if winner == "" {
			t.Fatal("nobody got the name")
		}
		if got, err := handles[0].Person(t.Context(), winner); err != nil || !strings.HasPrefix(got.Name, "Zed ") {
			t.Errorf("winner %s: %+v, %v", winner, got, err)
		}
	})
}
