// Raw system calls for the child path. The child shares the parent's memory
// (CLONE_VM), so it must not touch glibc's errno or any other thread-local or
// global state: these return -errno instead of setting errno.
#ifndef BULKHEAD_RAW_SYSCALL_H
#define BULKHEAD_RAW_SYSCALL_H

#if defined(__x86_64__)
static inline long bh_raw6(long n, long a, long b, long c, long d, long e, long f) {
  long ret;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}
#elif defined(__aarch64__)
static inline long bh_raw6(long n, long a, long b, long c, long d, long e, long f) {
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  register long x4 __asm__("x4") = e;
  register long x5 __asm__("x5") = f;
  __asm__ volatile("svc #0"
                   : "+r"(x0)
                   : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                   : "memory");
  return x0;
}
#else
#error "Bulkhead's child path supports x86_64 and aarch64"
#endif

#define bh_raw0(n) bh_raw6((n), 0, 0, 0, 0, 0, 0)
#define bh_raw1(n, a) bh_raw6((n), (long)(a), 0, 0, 0, 0, 0)
#define bh_raw2(n, a, b) bh_raw6((n), (long)(a), (long)(b), 0, 0, 0, 0)
#define bh_raw3(n, a, b, c) bh_raw6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define bh_raw4(n, a, b, c, d) bh_raw6((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define bh_raw5(n, a, b, c, d, e) \
  bh_raw6((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)

#endif
