package presence

import "time"

// SetHandoverFor shortens how long a handed-over list counts, for tests.
// Call it before TakeOver and Run.
func (r *Roster) SetHandoverFor(d time.Duration) { r.handoverFor = d }
