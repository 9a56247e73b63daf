#ifndef BULKHEAD_BENCH_H
#define BULKHEAD_BENCH_H

#include <stdint.h>

/* The cost lab's C side: CPU placement and the clock. The IPC loops live beside
 * these (ipc.c); each returns its samples in nanoseconds. */

/* Pins the calling thread to one CPU; returns 0 or -errno. */
int bhb_pin_to_cpu(int cpu);

/* The CPU the calling thread runs on now (sched_getcpu), or -1. */
int bhb_current_cpu(void);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bhb_now_ns(void);

#include <stddef.h>

/* ---- IPC (ipc.c) ----------------------------------------------------------
 * A channel is one side of a two-way byte stream between two peers. What carries
 * the bytes is either a pair of descriptors (a pipe in each direction, or one
 * connected stream socket) or a shared-memory region with one ring per direction,
 * in which case the peers wait for each other by spinning, with a futex, with an
 * eventfd, or with a mutex and condition variable (threads only).
 *
 * The initiator drives phases (bhb_rtt, bhb_stream, bhb_finish); the responder
 * (bhb_serve) follows a 16-byte header sent before each phase. Functions return 0
 * or -errno; -EPIPE when the peer is gone, -ECANCELED after bhb_chan_abort. */

/* How a side waits for its descriptor (the textbook's three styles). */
typedef enum {
    BHB_STYLE_BLOCKING = 0,  /* blocking read/write (or FUTEX_WAIT, cond_wait) */
    BHB_STYLE_EPOLL = 1,     /* O_NONBLOCK, and epoll_wait on EAGAIN */
    BHB_STYLE_BUSY_POLL = 2, /* O_NONBLOCK, and retry at once on EAGAIN */
} bhb_style;

/* How a side of a shared-memory ring waits for the other. */
typedef enum {
    BHB_WAIT_SPIN = 0,    /* spin on the ring's indices: no system call at all */
    BHB_WAIT_FUTEX = 1,   /* FUTEX_WAIT on a word of the shared region */
    BHB_WAIT_EVENTFD = 2, /* an eventfd per side, read in the channel's style */
    BHB_WAIT_CONDVAR = 3, /* pthread mutex + condition variable (one process) */
} bhb_wait;

typedef struct bhb_chan bhb_chan;

/* A channel over descriptors: reads from rfd, writes to wfd (the same descriptor
 * for a socket). Epoll and busy-poll styles set O_NONBLOCK on both. NULL and *err
 * set on failure. The descriptors stay the caller's. */
bhb_chan *bhb_chan_fd(int rfd, int wfd, bhb_style style, int *err);

/* The bytes a shared region needs for two rings of `capacity` bytes (a power of
 * two), and its initialisation (zeroed memory, once, by the side that created it). */
size_t bhb_ring_region_size(size_t capacity);
int bhb_ring_region_init(void *region, size_t size);

/* A channel over a shared region; side 0 or 1. For BHB_WAIT_EVENTFD, wake_self_fd
 * is read to wait and wake_peer_fd written to wake the other side; -1 otherwise.
 * `style` applies to the eventfd only. */
bhb_chan *bhb_chan_ring(void *region, size_t region_size, int side, bhb_wait wait, bhb_style style,
                        int wake_self_fd, int wake_peer_fd, int *err);

void bhb_chan_free(bhb_chan *c);

/* Makes every wait of `c` return -ECANCELED (from another thread: the peer died). */
void bhb_chan_abort(bhb_chan *c);

/* Initiator: one header, then `count` round trips of `size` bytes each way, each
 * timed alone (ns) into samples[0..count). */
int bhb_rtt(bhb_chan *c, size_t size, size_t count, uint64_t *samples);

/* Initiator: `total` bytes in writes of `chunk`, then the responder's one-byte
 * acknowledgement; *elapsed_ns from the header to the acknowledgement. */
int bhb_stream(bhb_chan *c, size_t total, size_t chunk, uint64_t *elapsed_ns);

/* Initiator: tells the responder to return. */
int bhb_finish(bhb_chan *c);

/* Responder: echoes and consumes as the headers say until bhb_finish. */
int bhb_serve(bhb_chan *c);

/* A responder on a pthread pinned to `cpu` (-1: not pinned). If its bhb_serve
 * fails, `on_failure` (the initiator's channel, may be NULL) is aborted so that the
 * initiator does not wait forever. join returns bhb_serve's result. */
typedef struct bhb_peer_thread bhb_peer_thread;
bhb_peer_thread *bhb_peer_thread_start(bhb_chan *serve, int cpu, bhb_chan *on_failure, int *err);
int bhb_peer_thread_join(bhb_peer_thread *t);

/* Watches a peer process through its pidfd and aborts `c` if it ends first. */
typedef struct bhb_watchdog bhb_watchdog;
bhb_watchdog *bhb_watchdog_start(bhb_chan *c, int pidfd, int *err);
void bhb_watchdog_stop(bhb_watchdog *w);

/* Unix stream sockets by path; a path starting with '@' names an abstract socket
 * (Linux: a name in the network namespace, not in the filesystem). listen returns
 * the listening descriptor or -errno; accept waits up to timeout_ms, and returns
 * -ECHILD as soon as pidfd (>= 0) says the peer ended; connect returns a connected
 * descriptor or -errno. All descriptors are close-on-exec. */
int bhb_unix_listen(const char *path);
int bhb_unix_accept(int listen_fd, int pidfd, int timeout_ms);
int bhb_unix_connect(const char *path);

/* The CPUs the calling thread may run on (sched_getaffinity), ascending, at most
 * `max`; returns the count or -errno. bhb_pin_to_cpus restores such a set. */
int bhb_allowed_cpus(int *cpus, int max);
int bhb_pin_to_cpus(const int *cpus, int count);

/* Close-on-exec descriptors for the transports, or -errno: a memfd of `size`
 * bytes (shared memory that can be passed into any namespace), an eventfd with a
 * count of 0, a connected AF_UNIX stream socketpair, a pipe (0 or -errno). */
int bhb_memfd(size_t size);
int bhb_eventfd(void);
int bhb_socketpair(int sv[2]);
int bhb_pipe(int fds[2]);

/* ---- Spawn (spawn.c) ---------------------------------------------------- */

/* Spawn loops (spawn.c): each fills `samples` with `count` durations in ns, from
 * the call to the end of what it started (pthread_join, waitpid of a child that
 * must exit 0); returns 0 or -errno. */
int bhb_spawn_threads(uint64_t *samples, size_t count);
int bhb_spawn_posix(const char *path, char *const argv[], char *const envp[], uint64_t *samples, size_t count);
int bhb_spawn_fork_exec(const char *path, char *const argv[], char *const envp[], uint64_t *samples, size_t count);

/* `bytes` of private anonymous memory, every page written (resident, its own page-
 * table entry): the large supervisor heap; NULL on failure. */
void *bhb_resident_heap(size_t bytes);
void bhb_release_heap(void *heap, size_t bytes);

#endif
