/* The uploader: the outbox to HQ in acknowledged batches, then the config bundle HQ signed. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "pos.h"
#include "sync.h"

#define FIRST_TARGET (64 * 1024) /* bytes of a run's first batch; doubles after each ack */
#define GIVE_UP_MS 60000         /* once: consecutive failure before TG_EOFFLINE */
#define POLL_MS 30000            /* not once: the wait between passes */
#define SLICE_MS 100             /* a wait looks at the stop flag this often */
#define STALLS_MAX 3   /* answers for one range acknowledging nothing new: then a failure */
#define ATTEMPTS_MAX 64 /* the backoff is at its cap long before */
#define STOPPED 1      /* positive: never a tg code */

typedef struct {
  tg_terminal *t;
  const tg_sync_options *opt;
  int64_t give_up_ms, poll_ms;
  int lock_fd;
  tg__sync_client *client;
  unsigned char hq_key[TG__CRED_KEY]; /* checks bundles */
  char etag[TG__SYNC_ETAG_MAX];       /* of the bundle in force, "" none */
  /* the batch in hand: records from..to as their lines, ready to send again */
  char *buf;
  size_t cap, n, target;
  int64_t from, to; /* 0: none in hand */
  /* consecutive failures */
  int attempt;
  int64_t failing_since; /* monotonic ms; 0 while exchanges succeed */
  int stalls;
  int64_t started; /* monotonic ms */
  tg_sync_progress p;
} run;

static int stopped(const run *r) { return r->opt->stop != NULL && *r->opt->stop != 0; }

static void report(run *r, int64_t waiting_ms) {
  if (r->opt->progress == NULL)
    return;
  r->p.elapsed_ms = tg__mono_ms() - r->started;
  r->p.waiting_ms = (int)(waiting_ms > INT_MAX ? INT_MAX : waiting_ms);
  r->opt->progress(r->opt->ctx, &r->p);
}

/* Waits ms in short slices; STOPPED as soon as the stop flag is set. */
static int pause_ms(run *r, int64_t ms) {
  int64_t end = tg__mono_ms() + ms;
  while (!stopped(r)) {
    int64_t left = end - tg__mono_ms();
    if (left <= 0)
      return 0;
    if (left > SLICE_MS)
      left = SLICE_MS;
    struct timespec ts = {0, (long)left * 1000000L};
    nanosleep(&ts, NULL); /* a signal ends it early: the flag is looked at again */
  }
  return STOPPED;
}

/* The one uploader of this database: an exclusive flock on a file of its own
 * beside it (locking the database file itself would drop SQLite's locks on close). */
static int lock_take(run *r) {
  const char *db = sqlite3_db_filename(r->t->db, "main");
  char path[4200];
  if (db == NULL || db[0] == '\0' ||
      snprintf(path, sizeof path, "%s-sync.lock", db) >= (int)sizeof path)
    return tg__fail(r->t, TG_ECANTOPEN, "the database has no file name to put a sync lock beside");
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return tg__fail(r->t, TG_ECANTOPEN, "%s: %s", path, strerror(errno));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    close(fd);
    return e == EWOULDBLOCK
               ? tg__fail(r->t, TG_ESYNCING, "another sync holds %s", path)
               : tg__fail(r->t, TG_EIO, "could not lock %s: %s", path, strerror(e));
  }
  r->lock_fd = fd;
  return 0;
}

/* Optional text column i, or NULL. */
static const char *column_or_null(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? NULL
                                                   : (const char *)sqlite3_column_text(st, i);
}

/* Makes the client from the enrolment; TG_ENOTENROLLED when there is none. */
static int client_make(run *r) {
  tg_terminal *t = r->t;
  sqlite3_stmt *st;
  tg__cred cred;
  char why[TG__SYNC_DETAIL_MAX] = "";
  int made = 0, rc = sqlite3_prepare_v2(
                    t->db,
                    "SELECT url, secret, hq_key, pinned_key, ca_file, cert_file, key_file, proxy,"
                    " bundle_etag FROM hq WHERE id = 1",
                    -1, &st, NULL);
  memset(&cred, 0, sizeof cred);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if (rc == SQLITE_DONE) {
    rc = tg__fail(t, TG_ENOTENROLLED,
                  "this till is not enrolled: run 'tillgroup enrol --hq URL' with the credential "
                  "'tillgroup-hq enrol %s %s' printed",
                  t->info.store_id, t->info.terminal_id);
  } else if (rc != SQLITE_ROW) {
    rc = tg__db_fail(t, rc, "could not read the enrolment");
  } else if (sqlite3_column_bytes(st, 1) != TG__CRED_SECRET ||
             sqlite3_column_bytes(st, 2) != TG__CRED_KEY ||
             sqlite3_column_bytes(st, 8) >= (int)sizeof r->etag) {
    rc = tg__fail(t, TG_ECORRUPT, "the enrolment is damaged: run 'tillgroup enrol' again");
  } else {
    tg__sync_config cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cred.store, sizeof cred.store, "%s", t->info.store_id);
    snprintf(cred.terminal, sizeof cred.terminal, "%s", t->info.terminal_id);
    memcpy(cred.secret, sqlite3_column_blob(st, 1), TG__CRED_SECRET);
    memcpy(cred.hq_key, sqlite3_column_blob(st, 2), TG__CRED_KEY);
    memcpy(r->hq_key, cred.hq_key, TG__CRED_KEY);
    snprintf(r->etag, sizeof r->etag, "%s", column_or_null(st, 8) ? column_or_null(st, 8) : "");
    cfg.url = (const char *)sqlite3_column_text(st, 0);
    cfg.cred = &cred;
    cfg.pinned_key = column_or_null(st, 3);
    cfg.ca_file = column_or_null(st, 4);
    cfg.cert_file = column_or_null(st, 5);
    cfg.key_file = column_or_null(st, 6);
    cfg.proxy = column_or_null(st, 7);
    cfg.low_speed_s = r->opt->stall_s; /* 0: the client's default */
    if (cfg.url == NULL) {
      rc = tg__fail(t, TG_ENOMEM, "%s", tg_strerror(TG_ENOMEM));
    } else {
      made = tg__sync_client_new(&cfg, &r->client, why, sizeof why);
      rc = made == 0    ? 0
           : made == -2 ? tg__fail(t, TG_ENOMEM, "%s", tg_strerror(TG_ENOMEM))
                        : tg__fail(t, TG_EINVAL, "the enrolment's HQ settings: %s", why);
    }
  }
  sqlite3_finalize(st);
  sodium_memzero(&cred, sizeof cred);
  return rc;
}

/* Keeps detail (no secrets: the client never puts one in it) as HQ's last error. */
static int record_error(run *r, const char *detail) {
  char line[sizeof ((tg_status *)0)->last_error];
  size_t n = strnlen(detail, sizeof line - 1);
  memcpy(line, detail, n);
  line[n] = '\0';
  tg__utf8_clean(line);
  int rc = tg__txn_settle(r->t);
  sqlite3_stmt *st = rc == 0 ? tg__stmt(r->t, TG__ST_HQ_ERROR) : NULL;
  if (st == NULL)
    return rc != 0 ? rc : tg__from_sqlite(sqlite3_errcode(r->t->db));
  sqlite3_bind_text(st, 1, line, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, tg__now_ms());
  return tg__step_done(r->t, st, "could not record HQ's error");
}

/* An exchange that went well: the failure count starts again. */
static void succeeded(run *r) {
  r->attempt = 0;
  r->failing_since = 0;
}

/* A transient failure: records it, then waits as the retry schedule says.
 * 0 to try again; STOPPED; TG_EOFFLINE when a once run gives up. */
static int failure(run *r, const char *detail, int64_t retry_after_ms) {
  int64_t now = tg__mono_ms(), wait, left = INT64_MAX;
  int rc = record_error(r, detail);
  if (rc != 0)
    return rc;
  if (r->attempt < ATTEMPTS_MAX)
    r->attempt++;
  if (r->failing_since == 0)
    r->failing_since = now;
  if (r->opt->once && (left = r->failing_since + r->give_up_ms - now) <= 0)
    return tg__fail(r->t, TG_EOFFLINE, "gave up after %lld s of failed exchanges: %s",
                    (long long)((now - r->failing_since) / 1000), detail);
  wait = tg__sync_backoff_ms(r->attempt, retry_after_ms, randombytes_random());
  if (wait > left) /* one last try at the deadline */
    wait = left;
  report(r, wait);
  return pause_ms(r, wait);
}

/* HQ refused for good (credential or request): recorded, and the run ends with code. */
static int refused(run *r, int code, const char *detail) {
  int rc = record_error(r, detail);
  if (rc != 0)
    return rc;
  return code == TG_EHQAUTH
             ? tg__fail(r->t, code, "%s: enrol this till again ('tillgroup enrol')", detail)
             : tg__fail(r->t, code, "%s", detail);
}

/* Makes room for need bytes in the batch buffer. */
static int reserve(run *r, size_t need) {
  if (need <= r->cap)
    return 0;
  size_t cap = r->cap > 0 ? r->cap : FIRST_TARGET;
  while (cap < need)
    cap *= 2;
  char *p = tg__realloc(r->buf, cap);
  if (p == NULL)
    return tg__fail(r->t, TG_ENOMEM, "%s", tg_strerror(TG_ENOMEM));
  r->buf = p;
  r->cap = cap;
  return 0;
}

/* The batch being filled: where the next record goes and which seq it must be. */
typedef struct {
  run *r;
  int64_t expect;
} filling;

#define BATCH_FULL 1 /* positive: never a tg code */

/* Appends one record's line (its bytes and "\n") to the batch, or says it is full. */
static int batch_line(void *ctx, int64_t seq, const char *body, size_t len) {
  filling *f = ctx;
  run *r = f->r;
  int rc;
  if (seq != f->expect)
    return tg__fail(r->t, TG_ECORRUPT, "the outbox skips from record %lld to %lld",
                    (long long)f->expect, (long long)seq);
  if (r->n > 0 && r->n + len + 1 > r->target)
    return BATCH_FULL;
  if ((rc = reserve(r, r->n + len + 1)) != 0)
    return rc;
  memcpy(r->buf + r->n, body, len);
  r->buf[r->n + len] = '\n';
  r->n += len + 1;
  f->expect++;
  return 0;
}

/* Reads the records after seq `after` into the batch: in seq order, up to the
 * target size and the protocol's record count, and always at least one. */
static int batch_read(run *r, int64_t after) {
  tg_terminal *t = r->t;
  filling f = {r, after + 1};
  int rc = tg__txn_settle(t);
  r->n = 0;
  r->from = r->to = 0;
  if (rc == 0)
    rc = tg__outbox_lines(t, after, TG__SYNC_BATCH_RECORDS, batch_line, &f);
  if (rc != 0 && rc != BATCH_FULL)
    return rc;
  if (r->n == 0)
    return tg__fail(t, TG_ECORRUPT, "record %lld is missing from the outbox", (long long)f.expect);
  r->from = after + 1;
  r->to = f.expect - 1;
  return 0;
}

/* Reads the number of dead letters into the progress. */
static int dead_letters_count(run *r) {
  sqlite3_stmt *st = tg__stmt(r->t, TG__ST_DEAD_LETTER_COUNT);
  if (st == NULL)
    return tg__from_sqlite(sqlite3_errcode(r->t->db));
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    r->p.dead_letters = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  return rc == SQLITE_ROW ? 0 : tg__db_fail(r->t, rc, "could not count the dead letters");
}

/* In one transaction: the records HQ rejected as dead letters, the checkpoint
 * at through (back, too, when HQ lost records), and the time of success. */
static int ack_commit(run *r, const tg__sync_ack *ack, int64_t through) {
  tg_terminal *t = r->t;
  int64_t now = tg__now_ms();
  sqlite3_stmt *st;
  int nested, rc = tg__txn_begin(t, &nested);
  if (rc != 0)
    return rc;
  for (int i = 0; rc == 0 && i < ack->n_rejected; i++) {
    const tg__sync_rejected *x = &ack->rejected[i];
    if ((st = tg__stmt(t, TG__ST_DEAD_LETTER_INSERT)) == NULL) {
      rc = tg__from_sqlite(sqlite3_errcode(t->db));
      break;
    }
    sqlite3_bind_int64(st, 1, x->seq);
    sqlite3_bind_text(st, 2, x->status, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, x->reason, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    rc = tg__step_done(t, st, "could not keep a dead letter");
  }
  if (rc == 0 && (st = tg__stmt(t, TG__ST_COUNTER_ACK)) == NULL)
    rc = tg__from_sqlite(sqlite3_errcode(t->db));
  if (rc == 0) {
    sqlite3_bind_int64(st, 1, through);
    rc = tg__step_done(t, st, "could not move the checkpoint");
  }
  if (rc == 0 && (st = tg__stmt(t, TG__ST_HQ_ACKED)) == NULL)
    rc = tg__from_sqlite(sqlite3_errcode(t->db));
  if (rc == 0) {
    sqlite3_bind_int64(st, 1, now);
    rc = tg__step_done(t, st, "could not record the acknowledgement");
  }
  if (rc != 0) {
    tg__txn_rollback(t, nested);
    return rc;
  }
  if ((rc = tg__txn_commit(t, nested)) == 0 && ack->n_rejected > 0)
    rc = dead_letters_count(r);
  return rc;
}

/* Takes HQ's answer to the batch in hand and moves *acked with it: never past
 * the batch, which is all this answer can vouch for having been sent. */
static int ack_take(run *r, const tg__sync_ack *ack, int64_t *acked) {
  int64_t before = *acked, through = ack->acked_through < r->to ? ack->acked_through : r->to;
  int rc = ack_commit(r, ack, through);
  if (rc != 0)
    return rc;
  *acked = r->p.acked_through = through;
  report(r, 0);
  if (through > before) {
    succeeded(r);
    r->stalls = 0;
    if (r->target < TG__SYNC_BATCH_BYTES)
      r->target = r->target * 2 < TG__SYNC_BATCH_BYTES ? r->target * 2 : TG__SYNC_BATCH_BYTES;
    return 0;
  }
  if (through < before) { /* HQ lost records (restored): they go again */
    r->stalls = 0;
    return 0;
  }
  if (++r->stalls < STALLS_MAX)
    return 0;
  char detail[TG__SYNC_DETAIL_MAX];
  snprintf(detail, sizeof detail,
           "HQ acknowledged nothing new for records %lld-%lld %d times (through %lld)",
           (long long)r->from, (long long)r->to, STALLS_MAX, (long long)before);
  r->stalls = 0;
  return failure(r, detail, 0);
}

/* Sends the outbox after acked through last_seq, batch by batch. */
static int drain(run *r, int64_t last_seq, int64_t acked) {
  tg__sync_ack ack;
  tg__sync_exchange x;
  int rc = 0;
  while (rc == 0 && acked < last_seq) {
    if (stopped(r))
      return STOPPED;
    if (r->from != acked + 1 && (rc = batch_read(r, acked)) != 0)
      return rc;
    memset(&ack, 0, sizeof ack);
    memset(&x, 0, sizeof x);
    tg__sync_result res =
        tg__sync_upload(r->client, r->t->info.epoch, r->from, r->to, r->buf, r->n, &ack, &x);
    r->p.records_sent += r->to - r->from + 1;
    r->p.bytes_sent += x.bytes_up;
    switch (res) {
    case TG__SYNC_OK:
      rc = ack_take(r, &ack, &acked);
      break;
    case TG__SYNC_RETRY:
      report(r, 0);
      rc = failure(r, x.detail, x.retry_after_ms);
      break;
    case TG__SYNC_TOO_LARGE:
      report(r, 0);
      if (r->from == r->to) {
        rc = refused(r, TG_EHQ, x.detail);
      } else { /* fewer records: a new range, under its own key */
        r->target = r->n / 2;
        r->from = r->to = 0;
        succeeded(r);
      }
      break;
    case TG__SYNC_AUTH:
      rc = refused(r, TG_EHQAUTH, x.detail);
      break;
    case TG__SYNC_REFUSED:
      rc = refused(r, TG_EHQ, x.detail);
      break;
    case TG__SYNC_NOMEM:
    default:
      rc = tg__fail(r->t, TG_ENOMEM, "%s", tg_strerror(TG_ENOMEM));
      break;
    }
    tg__sync_ack_free(&ack);
  }
  return rc;
}

/* Remembers the ETag of the bundle now in force. */
static int etag_store(run *r, const char *etag) {
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(r->t->db, "UPDATE hq SET bundle_etag = ?1 WHERE id = 1", -1, &st,
                              NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, etag, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_OK)
    return tg__db_fail(r->t, rc, "could not remember the bundle's version");
  snprintf(r->etag, sizeof r->etag, "%s", etag);
  return 0;
}

/* A bundle refused here: the one in force stays, the detail is kept. */
static int bundle_refused(run *r) {
  char detail[TG_DETAIL_MAX];
  memcpy(detail, r->t->detail, sizeof detail);
  int rc = record_error(r, detail);
  return rc != 0 ? rc : tg__fail(r->t, TG_EBUNDLE, "%s", detail);
}

/* Fetches the bundle HQ has for this store; applies it when new and signed by HQ. */
static int bundle_step(run *r) {
  tg__sync_bundle b;
  tg__sync_exchange x;
  tg__sync_result res;
  int rc;
  for (;;) {
    if (stopped(r))
      return STOPPED;
    memset(&b, 0, sizeof b);
    memset(&x, 0, sizeof x);
    res = tg__sync_bundle_fetch(r->client, r->etag, &b, &x);
    report(r, 0);
    if (res != TG__SYNC_RETRY)
      break;
    free(b.body);
    if ((rc = failure(r, x.detail, x.retry_after_ms)) != 0)
      return rc;
  }
  switch (res) {
  case TG__SYNC_OK:
    succeeded(r);
    if (b.not_modified || b.body == NULL) {
      rc = 0;
    } else if (tg__bundle_sig_check(r->hq_key, b.body, b.n, b.signature) != 0) {
      tg__fail(r->t, TG_EBUNDLE,
               "bundle signature does not verify with HQ's key (ETag %.16s): the bundle in "
               "force stays",
               b.etag);
      rc = bundle_refused(r);
    } else if ((rc = tg_bundle_apply(r->t, b.body, b.n)) == 0) {
      rc = etag_store(r, b.etag);
    } else if (rc == TG_EBUNDLE) {
      char why[TG_DETAIL_MAX];
      memcpy(why, r->t->detail, sizeof why);
      tg__fail(r->t, TG_EBUNDLE, "bundle %.16s refused, the bundle in force stays: %s", b.etag,
               why);
      rc = bundle_refused(r);
    }
    break;
  case TG__SYNC_AUTH:
    rc = refused(r, TG_EHQAUTH, x.detail);
    break;
  case TG__SYNC_REFUSED:
    rc = refused(r, TG_EHQ, x.detail);
    break;
  case TG__SYNC_TOO_LARGE:
    tg__fail(r->t, TG_EBUNDLE, "bundle refused, the bundle in force stays: %s", x.detail);
    rc = bundle_refused(r);
    break;
  case TG__SYNC_NOMEM:
  default:
    rc = tg__fail(r->t, TG_ENOMEM, "%s", tg_strerror(TG_ENOMEM));
    break;
  }
  free(b.body);
  return rc;
}

/* One pass: what is queued now, then the bundle. */
static int pass(run *r) {
  int64_t last_seq, acked;
  int rc = tg__txn_settle(r->t);
  if (rc == 0)
    rc = tg__counter_get(r->t, &last_seq, &acked);
  if (rc != 0)
    return rc;
  r->p.last_seq = last_seq;
  r->p.acked_through = acked;
  if ((rc = drain(r, last_seq, acked)) != 0)
    return rc;
  return bundle_step(r);
}

int tg_sync_run(tg_terminal *t, const tg_sync_options *opt) {
  run r;
  int rc;
  assert(t != NULL && opt != NULL);
  memset(&r, 0, sizeof r);
  r.t = t;
  r.opt = opt;
  r.lock_fd = -1;
  r.target = FIRST_TARGET;
  r.started = tg__mono_ms();
  r.give_up_ms = opt->give_up_ms > 0 ? opt->give_up_ms : GIVE_UP_MS;
  r.poll_ms = opt->poll_ms > 0 ? opt->poll_ms : POLL_MS;
  if ((rc = lock_take(&r)) == 0 && (rc = tg__txn_settle(t)) == 0 &&
      (rc = client_make(&r)) == 0 && (rc = dead_letters_count(&r)) == 0) {
    for (;;) {
      rc = pass(&r);
      if (rc == STOPPED || opt->once || (rc != 0 && rc != TG_EBUNDLE))
        break;
      if ((rc = pause_ms(&r, r.poll_ms)) != 0) /* a refused bundle waits for the next pass */
        break;
    }
    if (rc == STOPPED)
      rc = 0;
  }
  tg__sync_client_free(r.client);
  tg__free(r.buf);
  if (r.lock_fd >= 0)
    close(r.lock_fd);
  return rc;
}
