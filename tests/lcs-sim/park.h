/* Timed holds for connections: an item is suspended, parked with a
 * deadline, and resumed by a helper thread once the deadline has passed.
 * The simulator uses it for delays, blackholes and trickled answers so no
 * worker thread ever sleeps. Independent of the HTTP library: suspending
 * and resuming are callbacks. Thread-safe. */
#ifndef LCS_SIM_PARK_H
#define LCS_SIM_PARK_H

#include <stdbool.h>
#include <stdint.h>

typedef void (*park_fn)(void *item);

struct park;

/* Starts the helper thread; NULL when that failed. */
struct park *park_new(park_fn suspend, park_fn resume);
/* Calls suspend(item) and has resume(item) called at deadline (a
 * park_now_ms() value) or at park_stop, whichever comes first. Returns
 * false, without suspending, once park_stop has begun. The caller reports
 * with park_done when the item runs again (or is gone). */
bool park_hold(struct park *p, void *item, uint64_t deadline);
void park_done(struct park *p);
/* Resumes every parked item now, refuses new ones, waits at most wait_ms
 * for the held items to report park_done, and stops the thread. */
void park_stop(struct park *p, unsigned int wait_ms);
void park_free(struct park *p);
/* Monotonic milliseconds. */
uint64_t park_now_ms(void);

#endif
