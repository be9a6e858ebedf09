/* Preloaded into test programs that run under valgrind memcheck (see tests/CMakeLists.txt).
 *
 * Debian's FFmpeg links libjxl, which links Highway (libhwy); libhwy's load-time constructor calls
 * hwy::platform::TimerResolution(), which executes RDTSCP, an instruction valgrind 3.19 does not
 * emulate: every program that loads libavcodec dies of SIGILL under valgrind before main. The
 * constructor calls it through the PLT, so this definition takes its place. Nothing in vw uses
 * Highway's timers; the value only feeds Highway's own benchmarking helpers. */
#include <stdint.h>

uint64_t _ZN3hwy8platform15TimerResolutionEv(void);

uint64_t _ZN3hwy8platform15TimerResolutionEv(void)
{
	return 1;
}
