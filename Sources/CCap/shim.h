// libcap (Debian's libcap-dev), used only in the parent: capability names as users
// write them, and their numbers.
#include <sys/capability.h>
