/* What the terminal's pull endpoint and HQ's service share in serving HTTP with libmicrohttpd. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "sync.h"

#define PEM_MAX (1024 * 1024) /* a certificate chain or key file */

void tg__http_printable(const char *z, char *out, size_t cap) {
  size_t i = 0;
  for (; z != NULL && z[i] != '\0' && i + 1 < cap; i++)
    out[i] = (z[i] >= 0x20 && z[i] < 0x7f) ? z[i] : '?';
  out[i] = '\0';
}

int64_t tg__http_log_stamp(const struct timespec *t0, char when[TG__HTTP_WHEN_MAX]) {
  struct timespec t1;
  struct tm tm;
  time_t now = time(NULL);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  strftime(when, TG__HTTP_WHEN_MAX, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
  return ((int64_t)t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

void tg__http_mhd_log(void *cls, const char *fmt, va_list ap) {
  char line[512];
  vsnprintf(line, sizeof line, fmt, ap);
  line[strcspn(line, "\r\n")] = '\0';
  fprintf(stderr, "%s: %s\n", (const char *)cls, line);
}

/* Reads "A.B.C.D:PORT" or "[V6]:PORT" into addr; -1 when it is neither. */
static int read_listen(const char *z, struct sockaddr_storage *addr, int *v6) {
  char host[64];
  const char *colon = strrchr(z, ':'), *p;
  long port = 0;
  if (colon == NULL || colon[1] == '\0' || colon - z >= (long)sizeof host || colon == z)
    return -1;
  for (p = colon + 1; *p >= '0' && *p <= '9' && port <= 65535; p++)
    port = port * 10 + (*p - '0');
  if (*p != '\0' || port > 65535)
    return -1;
  memset(addr, 0, sizeof *addr);
  size_t n = (size_t)(colon - z);
  *v6 = z[0] == '[';
  if (*v6) {
    if (n < 3 || z[n - 1] != ']')
      return -1;
    memcpy(host, z + 1, n - 2);
    host[n - 2] = '\0';
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)addr;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    return inet_pton(AF_INET6, host, &a->sin6_addr) == 1 ? 0 : -1;
  }
  memcpy(host, z, n);
  host[n] = '\0';
  struct sockaddr_in *a = (struct sockaddr_in *)addr;
  a->sin_family = AF_INET;
  a->sin_port = htons((uint16_t)port);
  return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

int tg__http_listen_addr(const char *listen, struct sockaddr_storage *addr, int *v6, char *why,
                         size_t cap) {
  if (listen == NULL || read_listen(listen, addr, v6) != 0) {
    snprintf(why, cap, "--listen is HOST:PORT with an IPv4 address or [IPv6], not %s",
             listen != NULL ? listen : "nothing");
    return -1;
  }
  return 0;
}

/* Reads a PEM file (at most PEM_MAX bytes) as a NUL-terminated string; NULL with why. */
static char *read_pem(const char *path, char *why, size_t cap) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    snprintf(why, cap, "cannot open %s: %s", path, strerror(errno));
    return NULL;
  }
  char *buf = malloc(PEM_MAX + 1);
  size_t n = buf != NULL ? fread(buf, 1, PEM_MAX + 1, f) : 0;
  int bad = buf == NULL || ferror(f) || n == 0 || n > PEM_MAX;
  fclose(f);
  if (bad) {
    snprintf(why, cap,
             buf == NULL ? "out of memory reading %s" : "%s is unreadable, empty or over 1 MiB",
             path);
    free(buf);
    return NULL;
  }
  buf[n] = '\0';
  return buf;
}

int tg__http_tls_load(const char *cert_path, const char *key_path, char **cert, char **key,
                      char *why, size_t cap) {
  *cert = *key = NULL;
  if ((cert_path == NULL) != (key_path == NULL)) {
    snprintf(why, cap, "--tls-cert and --tls-key go together");
    return -1;
  }
  if (cert_path == NULL)
    return 0;
  if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
    snprintf(why, cap, "this libmicrohttpd has no TLS");
    return -1;
  }
  if ((*cert = read_pem(cert_path, why, cap)) == NULL)
    return -1;
  if ((*key = read_pem(key_path, why, cap)) == NULL) {
    free(*cert);
    *cert = NULL;
    return -1;
  }
  return 0;
}
