// Linux headers Swift's Glibc module does not export, for the Swift side.
#ifndef BULKHEAD_SHIMS_H
#define BULKHEAD_SHIMS_H
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/mount.h>
#endif
