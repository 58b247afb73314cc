/* A loopback HTTP proxy between a terminal and HQ that injects the network's faults on uploads. */
#ifndef TG_TEST_HQ_PROXY_H
#define TG_TEST_HQ_PROXY_H

typedef enum {
  TP_PASS = 0,        /* forward the request, return HQ's answer */
  TP_503,             /* answer 503 with Retry-After: 1 without forwarding */
  TP_500,             /* answer 500 without forwarding */
  TP_CLOSE_MID_BODY,  /* read half the body, then close: HQ sees nothing */
  TP_STALL,           /* read the request, then say nothing until the client gives up */
  TP_STALL_AFTER,     /* forward (HQ commits), then say nothing until the client gives up */
  TP_DROP_ANSWER,     /* forward (HQ commits), then close without answering */
  TP_TRUNCATE_ANSWER, /* forward, then send half of HQ's answer and close */
  TP_GARBLE_ANSWER,   /* forward, then send HQ's answer with its body scrambled */
  TP_TWICE,           /* forward twice (a duplicate delivery), return the second answer */
  TP_KILL_HQ,         /* send HQ half the request, then call the kill hook, then close */
} tp_action;

typedef struct tp_proxy tp_proxy;

/* Starts a proxy on 127.0.0.1 (a free port) in front of HQ on upstream_port. NULL on failure. */
tp_proxy *tp_start(int upstream_port);
/* The port the proxy listens on. */
int tp_port(const tp_proxy *p);
/* Points the proxy at another HQ port (after HQ restarted). */
void tp_set_upstream(tp_proxy *p, int port);
/*
 * The actions for the next POST requests, in order (copied; at most 32);
 * POSTs past the plan and every GET pass through.
 */
void tp_plan(tp_proxy *p, const tp_action *plan, int n);
/* Called (from the proxy's thread) by TP_KILL_HQ, with ctx. */
void tp_on_kill(tp_proxy *p, void (*fn)(void *ctx), void *ctx);
/* POST requests seen so far, and how many of them HQ answered. */
int tp_posts(const tp_proxy *p);
int tp_forwarded(const tp_proxy *p);
/* Stops the proxy and frees it. Accepts NULL. */
void tp_stop(tp_proxy *p);

#endif
