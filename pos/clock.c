/* Local time in the store's zone (GLib's zone database): flash-sale windows and printed dates. */
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "pos.h"

int tg__local_time(tg_terminal *t, int64_t ms, int *day, int *minute) {
  GDateTime *utc, *local;
  if (t->zone == NULL && (t->zone = g_time_zone_new_identifier(t->info.tz)) == NULL)
    return tg__fail(t, TG_ETZ, "time zone '%s' is not in the zone database", t->info.tz);
  utc = g_date_time_new_from_unix_utc(ms / 1000);
  local = utc != NULL ? g_date_time_to_timezone(utc, t->zone) : NULL;
  if (local == NULL) {
    if (utc != NULL)
      g_date_time_unref(utc);
    return tg__fail(t, TG_EINVAL, "time %lld ms is outside the calendar", (long long)ms);
  }
  *day = g_date_time_get_day_of_week(local) - 1; /* GLib: 1 Monday .. 7 Sunday */
  *minute = g_date_time_get_hour(local) * 60 + g_date_time_get_minute(local);
  g_date_time_unref(local);
  g_date_time_unref(utc);
  return 0;
}

void tg__clock_unload(tg_terminal *t) {
  if (t->zone != NULL)
    g_time_zone_unref(t->zone);
  t->zone = NULL;
}

const char *tg__time_format(int64_t ms, const char *tz, const char *fmt, char *buf, size_t n) {
  GTimeZone *zone = g_time_zone_new_identifier(tz);
  GDateTime *utc = g_date_time_new_from_unix_utc(ms / 1000), *local = NULL;
  gchar *text = NULL;
  if (zone != NULL && utc != NULL && (local = g_date_time_to_timezone(utc, zone)) != NULL)
    text = g_date_time_format(local, fmt);
  if (text == NULL || strlen(text) >= n)
    snprintf(buf, n, "%lld ms", (long long)ms);
  else
    memcpy(buf, text, strlen(text) + 1);
  g_free(text);
  if (local != NULL)
    g_date_time_unref(local);
  if (utc != NULL)
    g_date_time_unref(utc);
  if (zone != NULL)
    g_time_zone_unref(zone);
  return buf;
}
