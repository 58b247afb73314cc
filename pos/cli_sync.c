/* tillgroup commands for head office: enrol, and sync with its progress bar. */
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "pos.h"

#define HELP_OPTION {"help", no_argument, NULL, 'h'}
#define CREDENTIAL_LINE_MAX 1024 /* bytes of the credential line read from stdin */
#define SECONDS_MAX (7 * 86400)  /* --give-up and --poll */
#define BAR_WIDTH 78

static int help(const char *text) {
  fputs(text, stdout);
  return TG_EXIT_OK;
}

static const char enrol_help[] =
    "usage: tillgroup [--db PATH] enrol --hq URL [--pin sha256//BASE64] [--cacert FILE]\n"
    "                 [--cert FILE --key FILE] [--proxy URL] < credential\n"
    "Enrols this terminal at head office with the line 'tillgroup-hq enrol STORE\n"
    "TERMINAL' printed, read from stdin (never from the command line, where other\n"
    "users could see it). URL is https://HOST[:PORT]; http:// only to this machine.\n"
    "--pin accepts only HQ's TLS public key, --cacert trusts that CA instead of the\n"
    "system's, --cert and --key present a client certificate, --proxy overrides\n"
    "https_proxy. Invites are re-keyed with the key HQ derives from the credential.\n"
    "Enrolling again replaces all of it. Nothing is sent until 'tillgroup sync'.\n";

/* Reads one line (at most CREDENTIAL_LINE_MAX bytes) from stdin without stdio's
 * buffer, so that no copy of the secret is left behind; on a terminal, without echo. */
static int read_credential(char line[CREDENTIAL_LINE_MAX + 1], const char **why) {
  struct termios saved, quiet;
  int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0, rc = 0;
  size_t n = 0;
  char c;
  ssize_t got;
  if (tty) {
    quiet = saved;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    fputs("credential (the line 'tillgroup-hq enrol' printed): ", stderr);
  }
  while ((got = read(STDIN_FILENO, &c, 1)) == 1 && c != '\n') {
    if (n == CREDENTIAL_LINE_MAX) {
      rc = TG_ECREDENTIAL;
      *why = "the credential on stdin is longer than 1 KiB: give the one line";
      break;
    }
    line[n++] = c;
  }
  line[n] = '\0';
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    fputc('\n', stderr);
  }
  if (rc == 0 && got < 0) {
    rc = TG_EIO;
    *why = "could not read stdin";
  } else if (rc == 0 && n == 0) {
    rc = TG_ECREDENTIAL;
    *why = "no credential on stdin: pipe in the line 'tillgroup-hq enrol' printed";
  }
  return rc;
}

int tg__cmd_enrol(int argc, char **argv, const char *db) {
  static const struct option opts[] = {{"hq", required_argument, NULL, 'u'},
                                       {"pin", required_argument, NULL, 'p'},
                                       {"cacert", required_argument, NULL, 'c'},
                                       {"cert", required_argument, NULL, 'C'},
                                       {"key", required_argument, NULL, 'k'},
                                       {"proxy", required_argument, NULL, 'x'},
                                       HELP_OPTION,
                                       {NULL, 0, NULL, 0}};
  tg_hq_config cfg;
  char line[CREDENTIAL_LINE_MAX + 1];
  const char *why = NULL;
  int o, code;
  memset(&cfg, 0, sizeof cfg);
  while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (o) {
    case 'u': cfg.url = optarg; break;
    case 'p': cfg.pinned_key = optarg; break;
    case 'c': cfg.ca_file = optarg; break;
    case 'C': cfg.cert_file = optarg; break;
    case 'k': cfg.key_file = optarg; break;
    case 'x': cfg.proxy = optarg; break;
    case 'h': return help(enrol_help);
    default: return tg__cli_usage("enrol", "unknown option %s", argv[optind - 1]);
    }
  }
  if (cfg.url == NULL)
    return tg__cli_usage("enrol", "--hq URL is required");
  if (optind != argc)
    return tg__cli_usage("enrol", "the credential is read from stdin, never from arguments");
  if ((cfg.cert_file == NULL) != (cfg.key_file == NULL))
    return tg__cli_usage("enrol", "--cert and --key go together");
  tg_terminal *t;
  if ((code = tg__cli_open("enrol", db, &t)) != 0)
    return code;
  int rc = read_credential(line, &why);
  if (rc == 0) {
    cfg.credential = line;
    if ((rc = tg_hq_enrol(t, &cfg)) != 0)
      why = tg_last_detail(t);
  }
  sodium_memzero(line, sizeof line);
  if (rc != 0)
    code = tg__cli_error("enrol", rc, why);
  else
    printf("enrolled %s-%s at %s\n", t->info.store_id, t->info.terminal_id, cfg.url);
  tg_terminal_close(t);
  return code;
}

static const char sync_help[] =
    "usage: tillgroup [--db PATH] sync [--once] [--progress] [--give-up SECONDS]\n"
    "                 [--poll SECONDS]\n"
    "Sends the records waiting for head office, in batches HQ acknowledges, then\n"
    "fetches the config bundle HQ signed and applies it. Without --once it keeps\n"
    "running, a pass every --poll seconds (30), until SIGINT or SIGTERM. With --once\n"
    "it returns when the queue is empty, or gives up after --give-up seconds (60)\n"
    "without an answer. One sync per database at a time. --progress draws records,\n"
    "bytes, rate and ETA on stderr (the default when stderr is a terminal). Ends\n"
    "with one line: records and bytes sent, the checkpoint, dead letters.\n"
    "Exit codes: 0 done or stopped, 1 refused (not enrolled, another sync running,\n"
    "bad bundle), 3 storage problem, 4 head office unreachable or refusing this till.\n";

static volatile int stop_flag;

static void on_signal(int sig) {
  (void)sig;
  stop_flag = 1;
}

typedef struct {
  int draw;          /* draw the bar on stderr */
  int drawn;         /* a bar is on the line */
  int64_t acked_at;  /* checkpoint when the run began */
  tg_sync_progress last;
} bar;

/* Formats seconds as H:MM:SS or M:SS into out (16 bytes). */
static const char *clock_text(int64_t s, char out[16]) {
  if (s >= 3600)
    snprintf(out, 16, "%lld:%02d:%02d", (long long)(s / 3600 % 1000), (int)(s / 60 % 60),
             (int)(s % 60));
  else
    snprintf(out, 16, "%d:%02d", (int)(s / 60), (int)(s % 60));
  return out;
}

static void on_progress(void *ctx, const tg_sync_progress *p) {
  bar *b = ctx;
  char text[160], eta[16];
  double secs = (double)p->elapsed_ms / 1000.0;
  double rate = secs > 0.05 ? (double)(p->acked_through - b->acked_at) / secs : 0;
  b->last = *p;
  if (!b->draw)
    return;
  if (rate > 0 && p->acked_through < p->last_seq)
    clock_text((int64_t)((double)(p->last_seq - p->acked_through) / rate), eta);
  else
    snprintf(eta, sizeof eta, "%s", p->acked_through >= p->last_seq ? "0:00" : "--:--");
  int n = snprintf(text, sizeof text, "%lld/%lld records  %.1f MB sent  %.0f rec/s  ETA %s",
                   (long long)p->acked_through, (long long)p->last_seq,
                   (double)p->bytes_sent / 1e6, rate > 0 ? rate : 0, eta);
  if (p->waiting_ms > 0 && n > 0 && (size_t)n < sizeof text)
    snprintf(text + n, sizeof text - (size_t)n, "  retry in %d s", (p->waiting_ms + 999) / 1000);
  fprintf(stderr, "\r%-*.*s", BAR_WIDTH, BAR_WIDTH, text);
  fflush(stderr);
  b->drawn = 1;
}

/* Reads --give-up or --poll: whole seconds, 1..SECONDS_MAX, as ms; -1 if invalid. */
static int64_t seconds_arg(const char *s) {
  int64_t v = tg__parse_int(s, SECONDS_MAX);
  return v >= 1 ? v * 1000 : -1;
}

int tg__cmd_sync(int argc, char **argv, const char *db) {
  static const struct option opts[] = {{"once", no_argument, NULL, 'o'},
                                       {"progress", no_argument, NULL, 'p'},
                                       {"give-up", required_argument, NULL, 'g'},
                                       {"poll", required_argument, NULL, 'P'},
                                       HELP_OPTION,
                                       {NULL, 0, NULL, 0}};
  tg_sync_options opt;
  bar b;
  int o, code, progress = 0;
  memset(&opt, 0, sizeof opt);
  memset(&b, 0, sizeof b);
  while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (o) {
    case 'o': opt.once = 1; break;
    case 'p': progress = 1; break;
    case 'g':
      if ((opt.give_up_ms = seconds_arg(optarg)) < 0)
        return tg__cli_usage("sync", "--give-up takes whole seconds, 1 to %d", SECONDS_MAX);
      break;
    case 'P':
      if ((opt.poll_ms = seconds_arg(optarg)) < 0)
        return tg__cli_usage("sync", "--poll takes whole seconds, 1 to %d", SECONDS_MAX);
      break;
    case 'h': return help(sync_help);
    default: return tg__cli_usage("sync", "unknown option %s", argv[optind - 1]);
    }
  }
  if (optind != argc)
    return tg__cli_usage("sync", "takes no arguments");
  tg_terminal *t;
  tg_status st;
  if ((code = tg__cli_open("sync", db, &t)) != 0)
    return code;
  int rc = tg_status_get(t, &st);
  if (rc != 0) {
    code = tg__cli_error("sync", rc, tg_last_detail(t));
    tg_terminal_close(t);
    return code;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal; /* no SA_RESTART: a wait ends at once */
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  b.draw = progress || isatty(STDERR_FILENO);
  b.acked_at = st.acked_through;
  b.last.acked_through = st.acked_through;
  opt.progress = on_progress;
  opt.ctx = &b;
  opt.stop = &stop_flag;
  int64_t began = tg__mono_ms();
  rc = tg_sync_run(t, &opt);
  double secs = (double)(tg__mono_ms() - began) / 1000.0;
  char detail[TG_DETAIL_MAX];
  snprintf(detail, sizeof detail, "%s", tg_last_detail(t));
  if (b.drawn)
    fputc('\n', stderr);
  if (rc != TG_ESYNCING && rc != TG_ENOTENROLLED && tg_status_get(t, &st) == 0)
    printf("sent %lld records (%lld bytes) in %.1f s; acked through %lld; %lld dead letter%s\n",
           (long long)b.last.records_sent, (long long)b.last.bytes_sent, secs,
           (long long)st.acked_through, (long long)st.dead_letters,
           st.dead_letters == 1 ? "" : "s");
  if (rc != 0)
    code = tg__cli_error("sync", rc, detail);
  tg_terminal_close(t);
  return code;
}
