package limiter

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"tollgate/conf"
)

// On-failure policies of limits.redis.on_failure.
const (
	FailLocal = "local"
	FailAllow = "allow"
	FailDeny  = "deny"
)

const (
	// keyPrefix starts every Redis key the limiter writes.
	keyPrefix = "tollgate:rl:"
	// instancesKey is the sorted set of live gateway instances.
	instancesKey = "tollgate:rl:instances"
	// heartbeatEvery is how often an instance announces itself.
	heartbeatEvery = time.Second
	// instanceTTL is how long an instance counts as live after its last
	// heartbeat.
	instanceTTL = 3 * heartbeatEvery
	// clusterTags is the number of hash tags keys are spread over on Redis
	// Cluster (one sync call per tag); a single node uses one.
	clusterTags = 16
	// probeMin is the first delay between probes of a Redis that is down.
	probeMin = 100 * time.Millisecond
	// batchKeys bounds the keys settled by one script call.
	batchKeys = 256
)

// redisStore is the shared quota store: it owns the Redis client and the
// sync goroutine that settles leases every sync_interval, tracks the live
// instances and the store's health.
type redisStore struct {
	log      *slog.Logger
	settings string // addrs, username and password: a store is reused while they are unchanged
	client   redis.UniversalClient
	tags     int
	id       string
	span     time.Duration
	nowNs    func() int64

	interval  atomic.Int64 // sync_interval, ns
	onFailure atomic.Pointer[string]
	instances atomic.Int64
	up        atomic.Bool
	calls     atomic.Int64 // script round trips, for tests and reports

	mu      sync.Mutex
	queue   []*lease
	spare   []*lease
	stopped bool

	stop chan struct{}
	done chan struct{}
}

// storeSettings is the identity of a Redis configuration: what, when
// changed, needs a new client (TLS files are re-read by a new client
// only).
func storeSettings(r conf.Redis) string {
	s := fmt.Sprintf("%q|%q|%q", r.Addrs, r.Username, r.Password)
	if r.Sentinel != nil {
		s += fmt.Sprintf("|sentinel %+v", *r.Sentinel)
	}
	if r.TLS != nil {
		s += fmt.Sprintf("|tls %+v", *r.TLS)
	}
	return s
}

// newRedisStore builds a store (not started) for r: one node, a Cluster
// (several addrs) or the master Sentinel names, over TLS when configured.
func newRedisStore(r conf.Redis, log *slog.Logger, id string, span time.Duration, nowNs func() int64) (*redisStore, error) {
	timeout := clampDur(10*r.SyncInterval, 200*time.Millisecond, 2*time.Second)
	opts := &redis.UniversalOptions{
		Addrs: r.Addrs, Username: r.Username, Password: r.Password,
		Protocol: 2, DisableIdentity: true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		DialTimeout:              timeout, ReadTimeout: timeout, WriteTimeout: timeout,
		MaxRetries: -1, DialerRetries: 1, PoolSize: 4,
	}
	if s := r.Sentinel; s != nil {
		opts.MasterName, opts.Addrs = s.MasterName, s.Addrs
		opts.SentinelUsername, opts.SentinelPassword = s.Username, s.Password
	}
	if len(opts.Addrs) == 0 {
		return nil, errors.New("redis store: no addrs")
	}
	if r.TLS != nil {
		tc, err := tlsConfig(r.TLS)
		if err != nil {
			return nil, err
		}
		opts.TLSConfig = tc
	}
	client := redis.NewUniversalClient(opts)
	st := &redisStore{
		log: log, settings: storeSettings(r), client: client, tags: 1, id: id, span: span, nowNs: nowNs,
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	if len(r.Addrs) > 1 && r.Sentinel == nil {
		st.tags = clusterTags
	}
	st.instances.Store(1)
	st.up.Store(true)
	st.configure(r)
	return st, nil
}

// configure applies the settings that may change without a new client.
func (st *redisStore) configure(r conf.Redis) {
	iv := r.SyncInterval
	if iv <= 0 {
		iv = 50 * time.Millisecond
	}
	st.interval.Store(int64(iv))
	mode := r.OnFailure
	if mode == "" {
		mode = FailLocal
	}
	st.onFailure.Store(&mode)
}

// start launches the sync goroutine; stop ends it.
func (st *redisStore) start() { go st.run() }

// close stops the sync goroutine, waits for it and closes the client.
func (st *redisStore) close() {
	close(st.stop)
	<-st.done
	if err := st.client.Close(); err != nil {
		st.log.Warn("limiter: closing redis client", "err", err)
	}
}

// run is the sync goroutine: a lease settlement every tick and a
// heartbeat every second. While Redis is down the heartbeat is the probe
// that notices its return, backing off from 100ms to one second so an
// outage costs few dial attempts.
func (st *redisStore) run() {
	defer close(st.done)
	defer st.drop()
	timer := time.NewTimer(0)
	defer timer.Stop()
	var lastBeat time.Time
	probe := probeMin
	for {
		select {
		case <-st.stop:
			return
		case <-timer.C:
		}
		every := heartbeatEvery
		if !st.up.Load() {
			every = probe
		}
		if time.Since(lastBeat) >= every {
			lastBeat = time.Now()
			st.safely(st.heartbeat)
			probe = nextProbe(probe, st.up.Load())
		}
		st.safely(st.sync)
		timer.Reset(time.Duration(st.interval.Load()))
	}
}

// nextProbe doubles the probe interval while Redis is down (up to a
// second) and resets it once Redis answers.
func nextProbe(cur time.Duration, up bool) time.Duration {
	if up {
		return probeMin
	}
	return min(2*cur, heartbeatEvery)
}

// safely runs fn, turning a panic into a log line so the goroutine lives.
func (st *redisStore) safely(fn func()) {
	defer func() {
		if r := recover(); r != nil {
			st.log.Error("limiter: redis sync panicked", "panic", r)
		}
	}()
	fn()
}

// heartbeat announces the instance and refreshes the live instance count.
func (st *redisStore) heartbeat() {
	ctx, cancel := st.ctx()
	defer cancel()
	n, err := heartbeatScript.Run(ctx, st.client, []string{instancesKey}, st.id, instanceTTL.Milliseconds()).Int64()
	st.calls.Add(1)
	if err != nil {
		st.failed(err)
		return
	}
	st.instances.Store(max(1, n))
	st.recovered()
}

// failed records an error talking to Redis; the first of an outage logs.
func (st *redisStore) failed(err error) {
	if st.up.Swap(false) {
		st.log.Warn("limiter: redis unavailable, applying on_failure until it returns",
			"on_failure", *st.onFailure.Load(), "instances", st.instances.Load(), "err", err)
	}
}

// recovered records a successful exchange with Redis.
func (st *redisStore) recovered() {
	if !st.up.Swap(true) {
		st.log.Info("limiter: redis reachable again, shared quotas restored")
	}
}

// ctx returns the context for one Redis call.
func (st *redisStore) ctx() (context.Context, context.CancelFunc) {
	iv := time.Duration(st.interval.Load())
	return context.WithTimeout(context.Background(), clampDur(10*iv, 200*time.Millisecond, 2*time.Second))
}

// enqueue adds a lease (already marked queued) to the next sync.
func (st *redisStore) enqueue(ls *lease) {
	st.mu.Lock()
	if st.stopped {
		st.mu.Unlock()
		ls.unqueue()
		return
	}
	st.queue = append(st.queue, ls)
	st.mu.Unlock()
}

// takeQueue swaps the queue out (double-buffered, so steady state does
// not allocate).
func (st *redisStore) takeQueue() []*lease {
	st.mu.Lock()
	defer st.mu.Unlock()
	q := st.queue
	st.queue = st.spare[:0]
	st.spare = nil
	return q
}

// giveQueue hands an emptied queue back for reuse.
func (st *redisStore) giveQueue(q []*lease) {
	clear(q)
	st.mu.Lock()
	st.spare = q[:0]
	st.mu.Unlock()
}

// drop empties the queue for good when the store stops.
func (st *redisStore) drop() {
	st.mu.Lock()
	st.stopped = true
	q := st.queue
	st.queue = nil
	st.mu.Unlock()
	for _, ls := range q {
		ls.unqueue()
	}
}

// sync settles every queued lease: one script call per hash tag and batch.
func (st *redisStore) sync() {
	q := st.takeQueue()
	defer st.giveQueue(q)
	if len(q) == 0 {
		return
	}
	if !st.up.Load() {
		for _, ls := range q {
			ls.unqueue()
		}
		return
	}
	slices.SortFunc(q, func(a, b *lease) int { return a.tag - b.tag })
	idleSince := st.nowNs() - st.idleAfter()
	for len(q) > 0 {
		n := 1
		for n < len(q) && n < batchKeys && q[n].tag == q[0].tag {
			n++
		}
		st.settle(q[:n], idleSince)
		q = q[n:]
	}
}

// settle runs the lease script for leases that share a hash tag.
func (st *redisStore) settle(batch []*lease, idleSince int64) {
	reqs := make([]request, len(batch))
	keys := make([]string, 0, 2*len(batch))
	horizon := st.horizonMs()
	args := make([]any, 0, 1+8*len(batch))
	args = append(args, horizon)
	wall := time.Now().UnixNano()
	for i, ls := range batch {
		r := ls.prepare(idleSince, st.want)
		reqs[i] = r
		qkey, qttl := ls.key, int64(0)
		if r.q.end != 0 {
			qkey = quotaKey(ls.key, r.q.start)
			qttl = quotaTTLms(r.q, wall)
		}
		keys = append(keys, ls.key, qkey)
		args = append(args, fmtFloat(r.rate/1000), fmtFloat(r.burst), fmtFloat(r.charge), fmtFloat(r.want),
			r.q.limit, r.q.charge, r.q.want, qttl)
	}
	ctx, cancel := st.ctx()
	defer cancel()
	res, err := leaseScript.Run(ctx, st.client, keys, args...).Slice()
	st.calls.Add(1)
	if err == nil && len(res) != len(batch) {
		err = fmt.Errorf("lease script: %d replies for %d keys", len(res), len(batch))
	}
	if err != nil {
		for i, ls := range batch {
			ls.fail(reqs[i])
		}
		st.failed(fmt.Errorf("settling %d leases: %w", len(batch), err))
		return
	}
	st.recovered()
	now := st.nowNs()
	for i, ls := range batch {
		r := replyOf(res[i])
		ls.settle(now, reqs[i], r[0], r[1], float64(r[2])/1000, horizon, r[3], r[4])
	}
}

// quotaTTLms is how long a period's counter is kept: until the period
// ends, plus a day (or one more period, if shorter) so gateways whose
// clocks differ a little still find it.
func quotaTTLms(q quotaRequest, wall int64) int64 {
	slack := min(int64(24*time.Hour), q.end-q.start)
	return max(1000, (q.end-wall+slack)/1e6)
}

// replyOf decodes one {granted, wait, tokens*1000, quota granted, quota
// left} reply; missing or malformed items read 0.
func replyOf(v any) (out [5]int64) {
	xs, _ := v.([]any)
	for i := range out {
		if i < len(xs) {
			out[i], _ = xs[i].(int64)
		}
	}
	return out
}

// quotaWant is the quota chunk a lease asks for: one second of requests
// at the bucket's rate, at most a tenth of the limit per instance (so the
// units held unspent by instances stay a small part of the quota; idle
// leases give theirs back), at least one.
func (st *redisStore) quotaWant(limit int64, rate float64) int64 {
	n := max(1, st.instances.Load())
	return max(1, min(limit/(10*n), int64(math.Ceil(rate))))
}

// want is the lease batch size for a quota: the tokens the quota refills in
// span, at least one, at most the burst. Larger batches mean fewer Redis
// calls per admitted request; smaller ones less slack held per instance.
func (st *redisStore) want(rate, burst float64) float64 {
	return math.Max(1, math.Min(burst, math.Ceil(rate*st.span.Seconds())))
}

// credit is what a key new to this instance may spend before Redis has
// been asked: its share of the burst (burst ÷ instances seen), charged at
// the next sync. A whole share, not one batch, so that a caller's first
// burst is served as the local store would serve it.
func (st *redisStore) credit(rate, burst float64) float64 {
	return math.Max(1, math.Floor(burst/float64(st.instances.Load())))
}

// horizonMs bounds how far in the future a reservation may become usable.
func (st *redisStore) horizonMs() int64 {
	return max(1000, 4*st.span.Milliseconds())
}

// idleAfter is how long an unused lease keeps its tokens before giving
// them back.
func (st *redisStore) idleAfter() int64 {
	return int64(max(time.Second, 20*time.Duration(st.interval.Load())))
}

// newLease creates the lease of a key first seen by this instance, with
// its credit already spendable, and queues it to report the credit.
func (st *redisStore) newLease(id string, now int64, rate, burst float64) *lease {
	credit := st.credit(rate, burst)
	ls := &lease{
		key: st.key(id), rate: rate, burst: burst, lastUse: now,
		avail: credit, owed: credit, queued: true,
	}
	ls.tag = st.tagOf(id)
	st.enqueue(ls)
	return ls
}

// key returns the Redis key of a bucket id, with its hash tag.
func (st *redisStore) key(id string) string {
	return keyPrefix + "{" + strconv.Itoa(st.tagOf(id)) + "}:" + id
}

// tagOf spreads ids over the hash tags.
func (st *redisStore) tagOf(id string) int {
	if st.tags == 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return int(h.Sum32() % uint32(st.tags))
}

// reclaim is called by the janitor for a lease whose bucket looks idle: it
// gives unused tokens back and reports whether the key may be forgotten.
func (st *redisStore) reclaim(ls *lease, now int64) bool {
	if ls.giveBack(now - st.idleAfter()) {
		st.enqueue(ls)
		return false
	}
	return ls.idle()
}

// evicted is told about a lease whose key the table dropped: whatever it
// holds or owes goes back to Redis at the next sync.
func (st *redisStore) evicted(ls *lease) {
	if ls.giveBack(math.MaxInt64) {
		st.enqueue(ls)
	}
}

// failMode returns on_failure.
func (st *redisStore) failMode() string { return *st.onFailure.Load() }

// fmtFloat formats a script argument.
func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// clampDur bounds d to [lo, hi].
func clampDur(d, lo, hi time.Duration) time.Duration { return min(max(d, lo), hi) }
