/* Checks the URL where HQ reaches a terminal for the nightly pull. */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "hq.h"

int tg__hq_pull_url_check(const char *url, char *why, size_t cap) {
  char *scheme = NULL, *host = NULL, *user = NULL, *password = NULL, *options = NULL,
       *query = NULL, *fragment = NULL, *path = NULL;
  int rc = -1;
  if (strnlen(url, TG__HQ_PULL_URL_MAX + 1) > TG__HQ_PULL_URL_MAX) {
    snprintf(why, cap, "the pull URL is longer than %d bytes", TG__HQ_PULL_URL_MAX);
    return -1;
  }
  for (const char *p = url; *p != '\0'; p++)
    if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
      snprintf(why, cap, "the pull URL holds a space, a control or a non-ASCII byte");
      return -1;
    }
  CURLU *u = curl_url();
  if (u == NULL) {
    snprintf(why, cap, "out of memory");
    return -1;
  }
  CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
  if (uc != CURLUE_OK) {
    snprintf(why, cap, "the pull URL is not a URL: %s", curl_url_strerror(uc));
    goto done;
  }
  if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0') {
    snprintf(why, cap, "the pull URL needs http:// or https:// and a host");
    goto done;
  }
  curl_url_get(u, CURLUPART_USER, &user, 0);
  curl_url_get(u, CURLUPART_PASSWORD, &password, 0);
  curl_url_get(u, CURLUPART_OPTIONS, &options, 0);
  curl_url_get(u, CURLUPART_QUERY, &query, 0);
  curl_url_get(u, CURLUPART_FRAGMENT, &fragment, 0);
  curl_url_get(u, CURLUPART_PATH, &path, 0);
  if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
    snprintf(why, cap, "the pull URL must start with http:// or https://");
  else if (user != NULL || password != NULL || options != NULL)
    snprintf(why, cap, "the pull URL must not carry a user or password: HQ signs its requests");
  else if (query != NULL || fragment != NULL)
    snprintf(why, cap, "the pull URL must end at the host and port: no '?' or '#'");
  else if (path != NULL && strcmp(path, "/") != 0 && path[0] != '\0')
    snprintf(why, cap, "the pull URL must end at the host and port: no path");
  else
    rc = 0;
done:
  curl_free(scheme);
  curl_free(host);
  curl_free(user);
  curl_free(password);
  curl_free(options);
  curl_free(query);
  curl_free(fragment);
  curl_free(path);
  curl_url_cleanup(u);
  return rc;
}
