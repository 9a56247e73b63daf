// libseccomp (Debian's libseccomp-dev), used only in the parent to compile filters.
#include <seccomp.h>
