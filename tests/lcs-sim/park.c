#include "park.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#define IDLE_WAIT_MS 1000

struct parked {
	void *item;
	uint64_t deadline;
	struct parked *next;
};

struct park {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	park_fn suspend;
	park_fn resume;
	struct parked *list;
	unsigned long held; /* parked or resumed but not yet done */
	bool stopping;
	bool thread_started;
};

uint64_t park_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void deadline_timespec(uint64_t ms, struct timespec *ts)
{
	ts->tv_sec = (time_t)(ms / 1000u);
	ts->tv_nsec = (long)(ms % 1000u) * 1000000L;
}

/* Unlinks the items whose deadline has passed (all of them when stopping)
 * and returns them; sets *next to the earliest remaining deadline. */
static struct parked *take_due(struct park *p, uint64_t now, uint64_t *next)
{
	struct parked **pp = &p->list;
	struct parked *due = NULL;

	*next = now + IDLE_WAIT_MS;
	while (*pp != NULL) {
		struct parked *e = *pp;

		if (p->stopping || e->deadline <= now) {
			*pp = e->next;
			e->next = due;
			due = e;
		} else {
			if (e->deadline < *next)
				*next = e->deadline;
			pp = &e->next;
		}
	}
	return due;
}

static void resume_all(struct park *p, struct parked *due)
{
	while (due != NULL) {
		struct parked *e = due;

		due = e->next;
		p->resume(e->item);
		free(e);
	}
}

static void *run(void *arg)
{
	struct park *p = arg;

	pthread_mutex_lock(&p->lock);
	while (!p->stopping) {
		uint64_t next;
		struct parked *due = take_due(p, park_now_ms(), &next);
		struct timespec ts;

		if (due != NULL) {
			/* Never call into the HTTP library holding the lock. */
			pthread_mutex_unlock(&p->lock);
			resume_all(p, due);
			pthread_mutex_lock(&p->lock);
			continue;
		}
		deadline_timespec(next, &ts);
		(void)pthread_cond_timedwait(&p->wake, &p->lock, &ts);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct park *park_new(park_fn suspend, park_fn resume)
{
	struct park *p = calloc(1, sizeof *p);
	pthread_condattr_t attr;

	if (p == NULL)
		return NULL;
	p->suspend = suspend;
	p->resume = resume;
	if (pthread_mutex_init(&p->lock, NULL) != 0) {
		free(p);
		return NULL;
	}
	if (pthread_condattr_init(&attr) != 0 ||
	    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&p->wake, &attr) != 0) {
		pthread_mutex_destroy(&p->lock);
		free(p);
		return NULL;
	}
	pthread_condattr_destroy(&attr);
	if (pthread_create(&p->thread, NULL, run, p) != 0) {
		park_free(p);
		return NULL;
	}
	p->thread_started = true;
	return p;
}

bool park_hold(struct park *p, void *item, uint64_t deadline)
{
	struct parked *e = malloc(sizeof *e);

	if (e == NULL)
		return false;
	e->item = item;
	e->deadline = deadline;
	pthread_mutex_lock(&p->lock);
	if (p->stopping) {
		pthread_mutex_unlock(&p->lock);
		free(e);
		return false;
	}
	/* Suspended under the lock, so park_stop cannot miss the item. */
	p->suspend(item);
	e->next = p->list;
	p->list = e;
	p->held++;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	return true;
}

void park_done(struct park *p)
{
	pthread_mutex_lock(&p->lock);
	if (p->held > 0)
		p->held--;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
}

void park_stop(struct park *p, unsigned int wait_ms)
{
	uint64_t until = park_now_ms() + wait_ms;
	struct parked *due;
	uint64_t next;
	struct timespec ts;

	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	due = take_due(p, park_now_ms(), &next);
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
	resume_all(p, due);
	if (p->thread_started) {
		pthread_join(p->thread, NULL);
		p->thread_started = false;
	}
	deadline_timespec(until, &ts);
	pthread_mutex_lock(&p->lock);
	while (p->held > 0 && park_now_ms() < until) {
		if (pthread_cond_timedwait(&p->wake, &p->lock, &ts) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&p->lock);
}

void park_free(struct park *p)
{
	if (p == NULL)
		return;
	if (p->thread_started)
		park_stop(p, 0);
	resume_all(p, p->list);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
