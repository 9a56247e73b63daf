#define _GNU_SOURCE
#include "bulkhead_bench.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

/* The IPC loops of the cost lab. Everything between two clock readings is here, in
 * C: the system calls (or the shared-memory copies) and nothing else. The wire
 * protocol is one 16-byte header per phase, sent through the channel itself:
 *   RTT    size, count: `count` times, the initiator writes `size` bytes and reads
 *          them back (perf bench sched pipe's loop, with its 4-byte int as size 4);
 *   STREAM chunk, total: the initiator writes `total` bytes in `chunk` writes and
 *          waits for a one-byte acknowledgement;
 *   END    the responder returns. */

enum { OP_END = 0, OP_RTT = 1, OP_STREAM = 2 };

typedef struct {
    uint32_t op;
    uint32_t size;
    uint64_t count;
} bhb_header;

#define BHB_LINE 128
#define BHB_RING_MAGIC 0x62686272696e6731ull /* "bhbring1" */

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __asm__ volatile("pause" ::: "memory");
#elif defined(__aarch64__)
    __asm__ volatile("yield" ::: "memory");
#endif
}

/* ---- the shared region --------------------------------------------------------
 * A header page, then ring 0 (side 0 -> side 1) and ring 1 (side 1 -> side 0). The
 * indices grow without wrapping (64 bits); a position is index & (capacity - 1).
 * Each index and each side's wait state has a cache line of its own, so that the
 * producer and the consumer do not bounce one line between cores. */

typedef struct {
    _Alignas(BHB_LINE) _Atomic uint64_t head; /* consumer position */
    _Alignas(BHB_LINE) _Atomic uint64_t tail; /* producer position */
} ring_ctl;

typedef struct {
    _Alignas(BHB_LINE) _Atomic uint32_t waiting; /* set while the side may block */
    _Atomic uint32_t seq;                        /* the futex word, bumped by wakers */
    pthread_mutex_t mu;                          /* BHB_WAIT_CONDVAR only */
    pthread_cond_t cv;
} side_ctl;

typedef struct {
    uint64_t magic;
    uint64_t capacity;
    ring_ctl ring[2];
    side_ctl side[2];
} region_hdr;

#define BHB_DATA_OFFSET 4096

_Static_assert(sizeof(region_hdr) <= BHB_DATA_OFFSET, "the region header must fit its page");

size_t bhb_ring_region_size(size_t capacity) { return BHB_DATA_OFFSET + 2 * capacity; }

int bhb_ring_region_init(void *region, size_t size) {
    if (region == NULL || size <= BHB_DATA_OFFSET) return -EINVAL;
    size_t cap = (size - BHB_DATA_OFFSET) / 2;
    if (cap == 0 || (cap & (cap - 1)) != 0) return -EINVAL;
    region_hdr *h = region;
    memset(h, 0, sizeof *h);
    h->capacity = cap;
    for (int s = 0; s < 2; s++) {
        pthread_mutexattr_t ma;
        pthread_condattr_t ca;
        pthread_mutexattr_init(&ma);
        pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
        pthread_condattr_init(&ca);
        pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
        pthread_mutex_init(&h->side[s].mu, &ma);
        pthread_cond_init(&h->side[s].cv, &ca);
        pthread_mutexattr_destroy(&ma);
        pthread_condattr_destroy(&ca);
    }
    atomic_thread_fence(memory_order_release);
    h->magic = BHB_RING_MAGIC;
    return 0;
}

/* ---- channels ---------------------------------------------------------------- */

typedef enum { CHAN_FD, CHAN_RING } chan_kind;

struct bhb_chan {
    chan_kind kind;
    bhb_style style;
    _Atomic int aborted;
    uint8_t *buf;
    size_t buf_size;
    /* CHAN_FD */
    int rfd, wfd;
    int ep_in, ep_out; /* BHB_STYLE_EPOLL: rfd for EPOLLIN, wfd for EPOLLOUT */
    /* CHAN_RING */
    region_hdr *hdr;
    uint8_t *tx_data, *rx_data;
    ring_ctl *tx, *rx;
    side_ctl *me, *peer;
    uint64_t cap;
    bhb_wait wait;
    int wake_self_fd, wake_peer_fd;
    int ep_wake; /* BHB_WAIT_EVENTFD with BHB_STYLE_EPOLL */
};

static bhb_chan *chan_alloc(int *err) {
    bhb_chan *c = calloc(1, sizeof *c);
    if (c == NULL) {
        *err = ENOMEM;
        return NULL;
    }
    c->rfd = c->wfd = c->ep_in = c->ep_out = c->wake_self_fd = c->wake_peer_fd = c->ep_wake = -1;
    return c;
}

static int set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return -errno;
    return 0;
}

static int epoll_for(int fd, uint32_t events) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) return -errno;
    struct epoll_event ev = {.events = events, .data.fd = fd};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int e = errno;
        close(ep);
        return -e;
    }
    return ep;
}

bhb_chan *bhb_chan_fd(int rfd, int wfd, bhb_style style, int *err) {
    bhb_chan *c = chan_alloc(err);
    if (c == NULL) return NULL;
    c->kind = CHAN_FD;
    c->style = style;
    c->rfd = rfd;
    c->wfd = wfd;
    int r = 0;
    if (style != BHB_STYLE_BLOCKING) {
        r = set_nonblocking(rfd);
        if (r == 0 && wfd != rfd) r = set_nonblocking(wfd);
    }
    if (r == 0 && style == BHB_STYLE_EPOLL) {
        c->ep_in = epoll_for(rfd, EPOLLIN);
        if (c->ep_in < 0) r = c->ep_in;
        if (r == 0) {
            c->ep_out = epoll_for(wfd, EPOLLOUT);
            if (c->ep_out < 0) r = c->ep_out;
        }
    }
    if (r < 0) {
        *err = -r;
        bhb_chan_free(c);
        return NULL;
    }
    return c;
}

bhb_chan *bhb_chan_ring(void *region, size_t region_size, int side, bhb_wait wait, bhb_style style,
                        int wake_self_fd, int wake_peer_fd, int *err) {
    region_hdr *h = region;
    if (region == NULL || region_size <= BHB_DATA_OFFSET || (side != 0 && side != 1) ||
        h->magic != BHB_RING_MAGIC || bhb_ring_region_size(h->capacity) > region_size ||
        (wait == BHB_WAIT_EVENTFD && (wake_self_fd < 0 || wake_peer_fd < 0))) {
        *err = EINVAL;
        return NULL;
    }
    bhb_chan *c = chan_alloc(err);
    if (c == NULL) return NULL;
    c->kind = CHAN_RING;
    c->style = style;
    c->wait = wait;
    c->hdr = h;
    c->cap = h->capacity;
    uint8_t *data = (uint8_t *)region + BHB_DATA_OFFSET;
    c->tx_data = data + (size_t)side * c->cap;
    c->rx_data = data + (size_t)(1 - side) * c->cap;
    c->tx = &h->ring[side];
    c->rx = &h->ring[1 - side];
    c->me = &h->side[side];
    c->peer = &h->side[1 - side];
    if (wait == BHB_WAIT_EVENTFD) {
        c->wake_self_fd = wake_self_fd;
        c->wake_peer_fd = wake_peer_fd;
        int r = 0;
        if (style != BHB_STYLE_BLOCKING) r = set_nonblocking(wake_self_fd);
        if (r == 0 && style == BHB_STYLE_EPOLL) {
            c->ep_wake = epoll_for(wake_self_fd, EPOLLIN);
            if (c->ep_wake < 0) r = c->ep_wake;
        }
        if (r < 0) {
            *err = -r;
            bhb_chan_free(c);
            return NULL;
        }
    }
    return c;
}

void bhb_chan_free(bhb_chan *c) {
    if (c == NULL) return;
    if (c->ep_in >= 0) close(c->ep_in);
    if (c->ep_out >= 0) close(c->ep_out);
    if (c->ep_wake >= 0) close(c->ep_wake);
    free(c->buf);
    free(c);
}

static long futex(_Atomic uint32_t *word, int op, uint32_t value) {
    /* Not FUTEX_PRIVATE_FLAG: the word may live in memory shared with another
     * process (a memfd mapping), where the key is the page, not the address. */
    return syscall(SYS_futex, (uint32_t *)word, op, value, NULL, NULL, 0);
}

void bhb_chan_abort(bhb_chan *c) {
    atomic_store(&c->aborted, 1);
    if (c->kind != CHAN_RING) return; /* descriptors: epoll and busy waits poll the flag */
    switch (c->wait) {
    case BHB_WAIT_SPIN:
        break;
    case BHB_WAIT_FUTEX:
        atomic_fetch_add(&c->me->seq, 1);
        futex(&c->me->seq, FUTEX_WAKE, 1);
        break;
    case BHB_WAIT_EVENTFD: {
        uint64_t one = 1;
        ssize_t r = write(c->wake_self_fd, &one, sizeof one);
        (void)r;
        break;
    }
    case BHB_WAIT_CONDVAR:
        pthread_mutex_lock(&c->me->mu);
        pthread_cond_broadcast(&c->me->cv);
        pthread_mutex_unlock(&c->me->mu);
        break;
    }
}

static int ensure_buf(bhb_chan *c, size_t size) {
    if (size <= c->buf_size) return 0;
    uint8_t *b = realloc(c->buf, size);
    if (b == NULL) return -ENOMEM;
    /* Touch it once: a page fault must not land inside a timed round trip. */
    memset(b + c->buf_size, 0x5a, size - c->buf_size);
    c->buf = b;
    c->buf_size = size;
    return 0;
}

/* ---- descriptor transports ----------------------------------------------------- */

static int fd_wait(bhb_chan *c, int ep) {
    if (atomic_load_explicit(&c->aborted, memory_order_relaxed)) return -ECANCELED;
    if (c->style == BHB_STYLE_BUSY_POLL) return 0;
    struct epoll_event ev;
    /* A bounded wait, so that an abort is seen within 100 ms. */
    int n = epoll_wait(ep, &ev, 1, 100);
    if (n < 0 && errno != EINTR) return -errno;
    return 0;
}

static int fd_send(bhb_chan *c, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t r = write(c->wfd, p, n);
        if (r > 0) {
            p += r;
            n -= (size_t)r;
        } else if (r < 0 && errno == EAGAIN) {
            int w = fd_wait(c, c->ep_out);
            if (w < 0) return w;
        } else if (r < 0 && errno != EINTR) {
            return -errno;
        }
    }
    return 0;
}

static int fd_recv(bhb_chan *c, uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t r = read(c->rfd, p, n);
        if (r > 0) {
            p += r;
            n -= (size_t)r;
        } else if (r == 0) {
            return -EPIPE;
        } else if (errno == EAGAIN) {
            int w = fd_wait(c, c->ep_in);
            if (w < 0) return w;
        } else if (errno != EINTR) {
            return -errno;
        }
    }
    return 0;
}

/* ---- ring transports ----------------------------------------------------------- */

enum { WANT_DATA, WANT_SPACE };

static bool ring_ready(bhb_chan *c, int want) {
    if (want == WANT_DATA)
        return atomic_load_explicit(&c->rx->tail, memory_order_acquire) !=
               atomic_load_explicit(&c->rx->head, memory_order_relaxed);
    uint64_t used = atomic_load_explicit(&c->tx->tail, memory_order_relaxed) -
                    atomic_load_explicit(&c->tx->head, memory_order_acquire);
    return used < c->cap;
}

/* Blocks until the eventfd has been written to (or, in epoll and busy-poll styles,
 * until it is readable), consuming its count. */
static int eventfd_wait(bhb_chan *c) {
    uint64_t v;
    for (;;) {
        ssize_t r = read(c->wake_self_fd, &v, sizeof v);
        if (r == (ssize_t)sizeof v) return 0;
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == EAGAIN) {
            if (atomic_load_explicit(&c->aborted, memory_order_relaxed)) return -ECANCELED;
            if (c->style == BHB_STYLE_EPOLL) {
                struct epoll_event ev;
                if (epoll_wait(c->ep_wake, &ev, 1, -1) < 0 && errno != EINTR) return -errno;
            }
            continue;
        }
        return r < 0 ? -errno : -EIO;
    }
}

/* The sleeping waits follow the futex pattern: announce "waiting", check the
 * condition again, then sleep; a waker publishes first, then looks at "waiting".
 * Both sides put a full fence between their store and their load, so at least one
 * of them sees the other's store: no wake-up is lost, and none is sent (no system
 * call is made) while the other side is running. */
static int ring_wait(bhb_chan *c, int want) {
    if (c->wait == BHB_WAIT_SPIN) {
        while (!ring_ready(c, want)) {
            if (atomic_load_explicit(&c->aborted, memory_order_relaxed)) return -ECANCELED;
            cpu_relax();
        }
        return 0;
    }
    for (;;) {
        uint32_t seq = atomic_load(&c->me->seq);
        atomic_store(&c->me->waiting, 1);
        atomic_thread_fence(memory_order_seq_cst);
        if (ring_ready(c, want)) break;
        if (atomic_load(&c->aborted)) {
            atomic_store(&c->me->waiting, 0);
            return -ECANCELED;
        }
        int r = 0;
        switch (c->wait) {
        case BHB_WAIT_FUTEX:
            if (futex(&c->me->seq, FUTEX_WAIT, seq) < 0 && errno != EAGAIN && errno != EINTR) r = -errno;
            break;
        case BHB_WAIT_EVENTFD:
            r = eventfd_wait(c);
            break;
        case BHB_WAIT_CONDVAR:
            pthread_mutex_lock(&c->me->mu);
            while (!ring_ready(c, want) && !atomic_load(&c->aborted)) pthread_cond_wait(&c->me->cv, &c->me->mu);
            pthread_mutex_unlock(&c->me->mu);
            break;
        case BHB_WAIT_SPIN:
            break;
        }
        if (r < 0) {
            atomic_store(&c->me->waiting, 0);
            return r;
        }
    }
    atomic_store_explicit(&c->me->waiting, 0, memory_order_relaxed);
    return 0;
}

static int ring_notify(bhb_chan *c) {
    if (c->wait == BHB_WAIT_SPIN) return 0;
    atomic_thread_fence(memory_order_seq_cst);
    if (!atomic_load_explicit(&c->peer->waiting, memory_order_relaxed)) return 0;
    switch (c->wait) {
    case BHB_WAIT_FUTEX:
        atomic_fetch_add(&c->peer->seq, 1);
        if (futex(&c->peer->seq, FUTEX_WAKE, 1) < 0) return -errno;
        break;
    case BHB_WAIT_EVENTFD: {
        uint64_t one = 1;
        for (;;) {
            ssize_t r = write(c->wake_peer_fd, &one, sizeof one);
            if (r == (ssize_t)sizeof one) break;
            if (r < 0 && errno == EINTR) continue;
            /* EAGAIN: the counter is near its maximum, so the peer is awake anyway. */
            if (r < 0 && errno == EAGAIN) break;
            return r < 0 ? -errno : -EIO;
        }
        break;
    }
    case BHB_WAIT_CONDVAR:
        pthread_mutex_lock(&c->peer->mu);
        pthread_cond_signal(&c->peer->cv);
        pthread_mutex_unlock(&c->peer->mu);
        break;
    case BHB_WAIT_SPIN:
        break;
    }
    return 0;
}

static int ring_send(bhb_chan *c, const uint8_t *p, size_t n) {
    while (n > 0) {
        uint64_t tail = atomic_load_explicit(&c->tx->tail, memory_order_relaxed);
        uint64_t head = atomic_load_explicit(&c->tx->head, memory_order_acquire);
        uint64_t space = c->cap - (tail - head);
        if (space == 0) {
            int r = ring_wait(c, WANT_SPACE);
            if (r < 0) return r;
            continue;
        }
        size_t off = (size_t)(tail & (c->cap - 1));
        size_t k = n;
        if (k > space) k = (size_t)space;
        if (k > c->cap - off) k = (size_t)(c->cap - off);
        memcpy(c->tx_data + off, p, k);
        atomic_store_explicit(&c->tx->tail, tail + k, memory_order_release);
        p += k;
        n -= k;
        int r = ring_notify(c);
        if (r < 0) return r;
    }
    return 0;
}

/* Reads up to n bytes (at least one); returns the count or -errno. */
static long ring_recv_some(bhb_chan *c, uint8_t *p, size_t n) {
    for (;;) {
        uint64_t head = atomic_load_explicit(&c->rx->head, memory_order_relaxed);
        uint64_t tail = atomic_load_explicit(&c->rx->tail, memory_order_acquire);
        uint64_t avail = tail - head;
        if (avail == 0) {
            int r = ring_wait(c, WANT_DATA);
            if (r < 0) return r;
            continue;
        }
        size_t off = (size_t)(head & (c->cap - 1));
        size_t k = n;
        if (k > avail) k = (size_t)avail;
        if (k > c->cap - off) k = (size_t)(c->cap - off);
        memcpy(p, c->rx_data + off, k);
        atomic_store_explicit(&c->rx->head, head + k, memory_order_release);
        int r = ring_notify(c);
        if (r < 0) return r;
        return (long)k;
    }
}

/* ---- the channel operations ------------------------------------------------------ */

static int chan_send(bhb_chan *c, const void *p, size_t n) {
    return c->kind == CHAN_FD ? fd_send(c, p, n) : ring_send(c, p, n);
}

static int chan_recv(bhb_chan *c, void *p, size_t n) {
    if (c->kind == CHAN_FD) return fd_recv(c, p, n);
    uint8_t *q = p;
    while (n > 0) {
        long k = ring_recv_some(c, q, n);
        if (k < 0) return (int)k;
        q += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Reads whatever is there, up to n bytes (a stream consumer). */
static long chan_recv_some(bhb_chan *c, void *p, size_t n) {
    if (c->kind == CHAN_RING) return ring_recv_some(c, p, n);
    for (;;) {
        ssize_t r = read(c->rfd, p, n);
        if (r > 0) return r;
        if (r == 0) return -EPIPE;
        if (errno == EAGAIN) {
            int w = fd_wait(c, c->ep_in);
            if (w < 0) return w;
        } else if (errno != EINTR) {
            return -errno;
        }
    }
}

int bhb_rtt(bhb_chan *c, size_t size, size_t count, uint64_t *samples) {
    if (size == 0 || size > UINT32_MAX) return -EINVAL;
    int r = ensure_buf(c, size);
    if (r < 0) return r;
    bhb_header h = {.op = OP_RTT, .size = (uint32_t)size, .count = count};
    r = chan_send(c, &h, sizeof h);
    if (r < 0) return r;
    for (size_t i = 0; i < count; i++) {
        uint64_t t0 = bhb_now_ns();
        r = chan_send(c, c->buf, size);
        if (r == 0) r = chan_recv(c, c->buf, size);
        uint64_t t1 = bhb_now_ns();
        if (r < 0) return r;
        samples[i] = t1 - t0;
    }
    return 0;
}

int bhb_stream(bhb_chan *c, size_t total, size_t chunk, uint64_t *elapsed_ns) {
    if (chunk == 0 || chunk > UINT32_MAX || total == 0) return -EINVAL;
    int r = ensure_buf(c, chunk);
    if (r < 0) return r;
    bhb_header h = {.op = OP_STREAM, .size = (uint32_t)chunk, .count = total};
    uint64_t t0 = bhb_now_ns();
    r = chan_send(c, &h, sizeof h);
    for (size_t sent = 0; r == 0 && sent < total;) {
        size_t k = total - sent < chunk ? total - sent : chunk;
        r = chan_send(c, c->buf, k);
        sent += k;
    }
    uint8_t ack;
    if (r == 0) r = chan_recv(c, &ack, 1);
    *elapsed_ns = bhb_now_ns() - t0;
    return r;
}

int bhb_finish(bhb_chan *c) {
    bhb_header h = {.op = OP_END, .size = 0, .count = 0};
    return chan_send(c, &h, sizeof h);
}

int bhb_serve(bhb_chan *c) {
    for (;;) {
        bhb_header h;
        int r = chan_recv(c, &h, sizeof h);
        if (r < 0) return r;
        switch (h.op) {
        case OP_END:
            return 0;
        case OP_RTT:
            if (h.size == 0) return -EPROTO;
            if ((r = ensure_buf(c, h.size)) < 0) return r;
            for (uint64_t i = 0; i < h.count; i++) {
                if ((r = chan_recv(c, c->buf, h.size)) < 0) return r;
                if ((r = chan_send(c, c->buf, h.size)) < 0) return r;
            }
            break;
        case OP_STREAM: {
            if (h.size == 0) return -EPROTO;
            if ((r = ensure_buf(c, h.size)) < 0) return r;
            uint64_t got = 0;
            while (got < h.count) {
                uint64_t left = h.count - got;
                long k = chan_recv_some(c, c->buf, left < h.size ? (size_t)left : h.size);
                if (k < 0) return (int)k;
                got += (uint64_t)k;
            }
            uint8_t ack = 1;
            if ((r = chan_send(c, &ack, 1)) < 0) return r;
            break;
        }
        default:
            return -EPROTO;
        }
    }
}

/* ---- a responder thread ------------------------------------------------------------ */

struct bhb_peer_thread {
    pthread_t thread;
    bhb_chan *serve;
    bhb_chan *on_failure;
    int cpu;
    int result;
};

static void *peer_thread_main(void *arg) {
    bhb_peer_thread *t = arg;
    int r = t->cpu >= 0 ? bhb_pin_to_cpu(t->cpu) : 0;
    if (r == 0) r = bhb_serve(t->serve);
    t->result = r;
    if (r < 0 && t->on_failure != NULL) bhb_chan_abort(t->on_failure);
    return NULL;
}

bhb_peer_thread *bhb_peer_thread_start(bhb_chan *serve, int cpu, bhb_chan *on_failure, int *err) {
    bhb_peer_thread *t = calloc(1, sizeof *t);
    if (t == NULL) {
        *err = ENOMEM;
        return NULL;
    }
    t->serve = serve;
    t->on_failure = on_failure;
    t->cpu = cpu;
    int r = pthread_create(&t->thread, NULL, peer_thread_main, t);
    if (r != 0) {
        *err = r;
        free(t);
        return NULL;
    }
    return t;
}

int bhb_peer_thread_join(bhb_peer_thread *t) {
    pthread_join(t->thread, NULL);
    int r = t->result;
    free(t);
    return r;
}

/* ---- a watchdog on a peer process -------------------------------------------------- */

struct bhb_watchdog {
    pthread_t thread;
    bhb_chan *chan;
    int pidfd;
    int stop[2];
};

static void *watchdog_main(void *arg) {
    bhb_watchdog *w = arg;
    struct pollfd fds[2] = {{.fd = w->pidfd, .events = POLLIN}, {.fd = w->stop[0], .events = POLLIN}};
    for (;;) {
        int n = poll(fds, 2, -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 || (fds[1].revents & (POLLIN | POLLHUP))) return NULL;
        if (fds[0].revents) {
            bhb_chan_abort(w->chan);
            return NULL;
        }
    }
}

bhb_watchdog *bhb_watchdog_start(bhb_chan *c, int pidfd, int *err) {
    bhb_watchdog *w = calloc(1, sizeof *w);
    if (w == NULL) {
        *err = ENOMEM;
        return NULL;
    }
    w->chan = c;
    w->pidfd = pidfd;
    if (pipe2(w->stop, O_CLOEXEC) < 0) {
        *err = errno;
        free(w);
        return NULL;
    }
    int r = pthread_create(&w->thread, NULL, watchdog_main, w);
    if (r != 0) {
        *err = r;
        close(w->stop[0]);
        close(w->stop[1]);
        free(w);
        return NULL;
    }
    return w;
}

void bhb_watchdog_stop(bhb_watchdog *w) {
    if (w == NULL) return;
    close(w->stop[1]);
    pthread_join(w->thread, NULL);
    close(w->stop[0]);
    free(w);
}

/* ---- Unix sockets by path ----------------------------------------------------------- */

static int unix_address(const char *path, struct sockaddr_un *a, socklen_t *len) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof a->sun_path) return -ENAMETOOLONG;
    memcpy(a->sun_path, path, n);
    if (path[0] == '@') a->sun_path[0] = '\0'; /* abstract: no terminating NUL counted */
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '@' ? 0 : 1));
    return 0;
}

int bhb_unix_listen(const char *path) {
    struct sockaddr_un a;
    socklen_t len;
    int r = unix_address(path, &a, &len);
    if (r < 0) return r;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    if (bind(fd, (struct sockaddr *)&a, len) < 0 || listen(fd, 1) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

int bhb_unix_accept(int listen_fd, int pidfd, int timeout_ms) {
    struct pollfd fds[2] = {{.fd = listen_fd, .events = POLLIN}, {.fd = pidfd, .events = POLLIN}};
    uint64_t deadline = bhb_now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        uint64_t now = bhb_now_ns();
        if (now >= deadline) return -ETIMEDOUT;
        int n = poll(fds, pidfd >= 0 ? 2 : 1, (int)((deadline - now) / 1000000u) + 1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -errno;
        if (fds[0].revents & POLLIN) {
            int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
            return fd < 0 ? -errno : fd;
        }
        if (pidfd >= 0 && fds[1].revents) return -ECHILD;
    }
}

int bhb_unix_connect(const char *path) {
    struct sockaddr_un a;
    socklen_t len;
    int r = unix_address(path, &a, &len);
    if (r < 0) return r;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    if (connect(fd, (struct sockaddr *)&a, len) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

/* ---- CPU sets ----------------------------------------------------------------------- */

int bhb_allowed_cpus(int *cpus, int max) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) < 0) return -errno;
    int n = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE && n < max; cpu++)
        if (CPU_ISSET(cpu, &set)) cpus[n++] = cpu;
    return n;
}

int bhb_pin_to_cpus(const int *cpus, int count) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int i = 0; i < count; i++)
        if (cpus[i] >= 0 && cpus[i] < CPU_SETSIZE) CPU_SET(cpus[i], &set);
    int r = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    return r == 0 ? 0 : -r;
}

/* ---- descriptors ------------------------------------------------------------------- */

int bhb_memfd(size_t size) {
    int fd = memfd_create("bulkhead-ipc", MFD_CLOEXEC);
    if (fd < 0) return -errno;
    if (ftruncate(fd, (off_t)size) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

int bhb_eventfd(void) {
    int fd = eventfd(0, EFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int bhb_socketpair(int sv[2]) { return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ? -errno : 0; }

int bhb_pipe(int fds[2]) { return pipe2(fds, O_CLOEXEC) < 0 ? -errno : 0; }
