/* USB over libusb: finding receipt printers and HID scanners, claiming them, moving their bytes. */
#include <libusb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drivers.h"

#define CHUNK 4096           /* bytes per bulk OUT transfer */
#define VENDORS_MAX 32       /* entries of the receipt printer list */
#define DEVICE_ID_MAX 1024   /* IEEE 1284 device ID, its 2-byte length included */
#define CONTROL_TIMEOUT_MS 1000
#define POLL_MS 250         /* how often the bus is looked at where there is no hotplug */

struct tg__usb_handle {
  libusb_context *ctx;
  libusb_device_handle *h;
  int iface;
  int detached;        /* the kernel driver was ours to give back */
  unsigned char out_ep, in_ep;
  int in_interrupt;    /* the IN endpoint is an interrupt one (scanners) */
};

/* Where a device's usable interface and endpoints are. */
typedef struct {
  tg__usb_kind kind;
  int iface, alt;
  unsigned char out_ep, in_ep;
  int in_interrupt;
} usb_match;

typedef struct {
  uint16_t vid, pid; /* pid 0: every product of the vendor */
} vendor_entry;

static const vendor_entry receipt_vendors[] = {
    {0x04b8, 0}, /* Epson */
    {0x0416, 0}, /* Xprinter, Zjiang (Winbond ids) */
    {0x0519, 0}, /* Star Micronics */
    {0x1d90, 0}, /* Citizen */
    {0x1504, 0}, /* Bixolon */
};

static int say(int rc, char *why, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int say(int rc, char *why, size_t cap, const char *fmt, ...) {
  if (why != NULL && cap > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
  }
  return rc;
}

/* A libusb error as a driver code. */
static int drv_rc(int e) {
  switch (e) {
  case LIBUSB_ERROR_NO_DEVICE:
  case LIBUSB_ERROR_NOT_FOUND:
    return TG__DRV_NODEV;
  case LIBUSB_ERROR_TIMEOUT:
    return TG__DRV_TIMEOUT;
  case LIBUSB_ERROR_ACCESS:
    return TG__DRV_ACCESS;
  case LIBUSB_ERROR_BUSY:
    return TG__DRV_BUSY;
  case LIBUSB_ERROR_NO_MEM:
    return TG__DRV_NOMEM;
  default:
    return TG__DRV_IO;
  }
}

/* Reads "VVVV" or "VVVV:PPPP" (hex) at *pz; 0 and moves *pz past it, else -1. */
static int read_ids(const char **pz, uint16_t *vid, uint16_t *pid) {
  unsigned long v[2] = {0, 0};
  const char *z = *pz;
  for (int k = 0; k < 2; k++) {
    char *end;
    if (!((*z >= '0' && *z <= '9') || (*z >= 'a' && *z <= 'f') || (*z >= 'A' && *z <= 'F')))
      return -1;
    v[k] = strtoul(z, &end, 16);
    if (end - z > 4 || v[k] == 0)
      return -1;
    z = end;
    if (*z != ':' || k == 1)
      break;
    z++;
  }
  *vid = (uint16_t)v[0];
  *pid = (uint16_t)v[1];
  *pz = z;
  return 0;
}

int tg__usb_spec(const char *rest, uint16_t *vid, uint16_t *pid) {
  *vid = *pid = 0;
  if (*rest == '\0')
    return 0;
  if (*rest++ != ':' || read_ids(&rest, vid, pid) != 0 || *pid == 0 || *rest != '\0')
    return -1;
  return 0;
}

/* The receipt printer list: the built-in vendors and TILLGROUP_USB_PRINTERS's entries. */
static int vendor_list(vendor_entry out[VENDORS_MAX]) {
  int n = (int)(sizeof receipt_vendors / sizeof receipt_vendors[0]);
  memcpy(out, receipt_vendors, sizeof receipt_vendors);
  const char *z = getenv("TILLGROUP_USB_PRINTERS");
  while (z != NULL && *z != '\0' && n < VENDORS_MAX) {
    if (read_ids(&z, &out[n].vid, &out[n].pid) == 0)
      n++;
    z += strcspn(z, ","); /* a malformed entry is skipped, not fatal */
    if (*z == ',')
      z++;
  }
  return n;
}

static int listed(const vendor_entry *v, int n, uint16_t vid, uint16_t pid) {
  for (int i = 0; i < n; i++)
    if (v[i].vid == vid && (v[i].pid == 0 || v[i].pid == pid))
      return 1;
  return 0;
}

/* Endpoints of one alternate setting: the first bulk OUT, and the first bulk or interrupt IN. */
static void endpoints(const struct libusb_interface_descriptor *a, usb_match *m) {
  m->out_ep = m->in_ep = 0;
  for (int e = 0; e < a->bNumEndpoints; e++) {
    const struct libusb_endpoint_descriptor *ep = &a->endpoint[e];
    int type = ep->bmAttributes & LIBUSB_TRANSFER_TYPE_MASK;
    int in = (ep->bEndpointAddress & LIBUSB_ENDPOINT_DIR_MASK) == LIBUSB_ENDPOINT_IN;
    if (!in && type == LIBUSB_TRANSFER_TYPE_BULK && m->out_ep == 0)
      m->out_ep = ep->bEndpointAddress;
    if (in && (type == LIBUSB_TRANSFER_TYPE_BULK || type == LIBUSB_TRANSFER_TYPE_INTERRUPT) &&
        m->in_ep == 0) {
      m->in_ep = ep->bEndpointAddress;
      m->in_interrupt = type == LIBUSB_TRANSFER_TYPE_INTERRUPT;
    }
  }
}

/*
 * What dev is to us: a printer (an interface of class 7, or of a listed
 * vendor, with a bulk OUT endpoint) or a scanner (a HID boot keyboard with an
 * interrupt IN endpoint). 0 with *m, or -1 when neither or unreadable.
 */
static int classify(libusb_device *dev, const struct libusb_device_descriptor *dd,
                    const vendor_entry *v, int n_v, usb_match *m) {
  struct libusb_config_descriptor *cfg;
  int found = -1;
  if (libusb_get_active_config_descriptor(dev, &cfg) != 0 &&
      libusb_get_config_descriptor(dev, 0, &cfg) != 0)
    return -1;
  int vendor = listed(v, n_v, dd->idVendor, dd->idProduct);
  for (int i = 0; i < cfg->bNumInterfaces && found != 0; i++) {
    for (int k = 0; k < cfg->interface[i].num_altsetting && found != 0; k++) {
      const struct libusb_interface_descriptor *a = &cfg->interface[i].altsetting[k];
      usb_match c = {0};
      endpoints(a, &c);
      c.iface = a->bInterfaceNumber;
      c.alt = a->bAlternateSetting;
      if ((a->bInterfaceClass == LIBUSB_CLASS_PRINTER ||
           (vendor && a->bInterfaceClass != LIBUSB_CLASS_HID)) &&
          c.out_ep != 0) {
        c.kind = TG__USB_PRINTER;
        if (c.in_interrupt) /* status comes back on bulk IN */
          c.in_ep = 0;
        c.in_interrupt = 0;
      } else if (a->bInterfaceClass == LIBUSB_CLASS_HID && a->bInterfaceSubClass == 1 &&
                 a->bInterfaceProtocol == 1 && c.in_ep != 0 && c.in_interrupt) {
        c.kind = TG__USB_SCANNER;
      } else {
        continue;
      }
      *m = c;
      found = 0;
    }
  }
  libusb_free_config_descriptor(cfg);
  return found;
}

/* Copies the MDL (or MODEL) field of an IEEE 1284 device ID into model. */
static void model_of(const char *id, size_t n, char model[TG__DRV_MODEL_MAX]) {
  model[0] = '\0';
  for (size_t at = 0; at < n;) {
    size_t len = 0;
    while (at + len < n && id[at + len] != ';')
      len++;
    const char *f = id + at;
    size_t key = 0;
    if (len >= 4 && memcmp(f, "MDL:", 4) == 0)
      key = 4;
    else if (len >= 6 && memcmp(f, "MODEL:", 6) == 0)
      key = 6;
    if (key != 0) {
      size_t k = 0;
      for (size_t i = key; i < len && k + 1 < TG__DRV_MODEL_MAX; i++)
        if (f[i] >= 0x20 && f[i] < 0x7F) /* printable ASCII only: it is shown to people */
          model[k++] = f[i];
      model[k] = '\0';
      return;
    }
    at += len + 1;
  }
}

/* Asks a printer interface for its IEEE 1284 device ID (printer class GET_DEVICE_ID). */
static void device_id(libusb_device_handle *h, const usb_match *m, int config_index,
                      char model[TG__DRV_MODEL_MAX]) {
  unsigned char id[DEVICE_ID_MAX];
  int got = libusb_control_transfer(
      h, LIBUSB_ENDPOINT_IN | LIBUSB_REQUEST_TYPE_CLASS | LIBUSB_RECIPIENT_INTERFACE, 0,
      (uint16_t)config_index, (uint16_t)(m->iface << 8 | m->alt), id, sizeof id,
      CONTROL_TIMEOUT_MS);
  model[0] = '\0';
  if (got < 2)
    return;
  size_t len = (size_t)id[0] << 8 | id[1]; /* big-endian, counting its own two bytes */
  if (len > (size_t)got)
    len = (size_t)got;
  if (len > 2)
    model_of((const char *)id + 2, len - 2, model);
}

/*
 * Calls fn for each printer or scanner on the bus until it returns nonzero,
 * which is returned. fn gets the device, its descriptor and the match.
 */
typedef int (*visit_fn)(void *ctx, libusb_device *dev, const struct libusb_device_descriptor *dd,
                        const usb_match *m);
static int walk(libusb_context *ctx, visit_fn fn, void *arg, char *why, size_t cap) {
  libusb_device **list;
  vendor_entry v[VENDORS_MAX];
  int n_v = vendor_list(v), rc = 0;
  ssize_t n = libusb_get_device_list(ctx, &list);
  if (n < 0)
    return say(drv_rc((int)n), why, cap, "cannot list USB devices: %s",
               libusb_strerror((int)n));
  for (ssize_t i = 0; i < n && rc == 0; i++) {
    struct libusb_device_descriptor dd;
    usb_match m;
    if (libusb_get_device_descriptor(list[i], &dd) != 0 || classify(list[i], &dd, v, n_v, &m) != 0)
      continue; /* unreadable or malformed descriptors: not ours */
    rc = fn(arg, list[i], &dd, &m);
  }
  libusb_free_device_list(list, 1);
  return rc;
}

typedef struct {
  tg__usb_device *out;
  int cap, n;
} list_ctx;

static int add_to_list(void *arg, libusb_device *dev, const struct libusb_device_descriptor *dd,
                       const usb_match *m) {
  list_ctx *l = arg;
  if (l->n == l->cap)
    return 1;
  tg__usb_device *d = &l->out[l->n++];
  memset(d, 0, sizeof *d);
  d->kind = m->kind;
  d->vid = dd->idVendor;
  d->pid = dd->idProduct;
  d->bus = libusb_get_bus_number(dev);
  d->address = libusb_get_device_address(dev);
  if (m->kind == TG__USB_PRINTER) { /* the model, if it can be asked without claiming */
    libusb_device_handle *h;
    if (libusb_open(dev, &h) == 0) {
      device_id(h, m, 0, d->model);
      libusb_close(h);
    }
  }
  return 0;
}

/* Starts libusb; no USB on this machine is *ctx NULL and 0. */
static int start(libusb_context **ctx, char *why, size_t cap) {
  int e = libusb_init(ctx);
  if (e == 0)
    return 0;
  *ctx = NULL;
  return say(e == LIBUSB_ERROR_NO_MEM ? TG__DRV_NOMEM : TG__DRV_NODEV, why, cap,
             "USB is not available here: %s", libusb_strerror(e));
}

int tg__usb_list(tg__usb_device *out, int cap, int *n, char *why, size_t why_cap) {
  libusb_context *ctx;
  list_ctx l = {out, cap, 0};
  *n = 0;
  if (start(&ctx, why, why_cap) != 0)
    return 0; /* no USB: nothing found */
  int rc = walk(ctx, add_to_list, &l, why, why_cap);
  libusb_exit(ctx);
  *n = l.n;
  return rc < 0 ? rc : 0;
}

typedef struct {
  tg__usb_kind kind;
  uint16_t vid, pid;
  libusb_device *dev; /* referenced */
  usb_match m;
  tg__usb_device found;
  int count; /* present(): how many match */
} find_ctx;

/* Whether a device is of f's kind, vendor and product. */
static int wanted(const find_ctx *f, const struct libusb_device_descriptor *dd, const usb_match *m) {
  return m->kind == f->kind && (f->vid == 0 || dd->idVendor == f->vid) &&
         (f->pid == 0 || dd->idProduct == f->pid);
}

static int pick(void *arg, libusb_device *dev, const struct libusb_device_descriptor *dd,
                const usb_match *m) {
  find_ctx *f = arg;
  if (!wanted(f, dd, m))
    return 0;
  f->dev = libusb_ref_device(dev);
  f->m = *m;
  f->found.kind = m->kind;
  f->found.vid = dd->idVendor;
  f->found.pid = dd->idProduct;
  f->found.bus = libusb_get_bus_number(dev);
  f->found.address = libusb_get_device_address(dev);
  return 1;
}

int tg__usb_open(tg__usb_kind kind, uint16_t vid, uint16_t pid, tg__usb_handle **out,
                 tg__usb_device *found, char *why, size_t cap) {
  const char *what = kind == TG__USB_PRINTER ? "receipt printer" : "barcode scanner";
  find_ctx f = {kind, vid, pid, NULL, {0}, {0}, 0};
  tg__usb_handle *u = calloc(1, sizeof *u);
  int rc, e;
  *out = NULL;
  if (u == NULL)
    return say(TG__DRV_NOMEM, why, cap, "out of memory");
  if ((rc = start(&u->ctx, why, cap)) != 0)
    goto fail;
  if ((rc = walk(u->ctx, pick, &f, why, cap)) < 0)
    goto fail;
  if (f.dev == NULL) {
    rc = vid != 0 ? say(TG__DRV_NODEV, why, cap, "no USB %s %04x:%04x is plugged in", what, vid,
                        pid)
                  : say(TG__DRV_NODEV, why, cap, "no USB %s is plugged in", what);
    goto fail;
  }
  e = libusb_open(f.dev, &u->h);
  libusb_unref_device(f.dev);
  if (e != 0) {
    rc = say(drv_rc(e), why, cap, "cannot open the USB %s %04x:%04x: %s%s", what, f.found.vid,
             f.found.pid, libusb_strerror(e),
             e == LIBUSB_ERROR_ACCESS ? " (add a udev rule giving this user the device)" : "");
    goto fail;
  }
  u->iface = f.m.iface;
  u->out_ep = f.m.out_ep;
  u->in_ep = f.m.in_ep;
  u->in_interrupt = f.m.in_interrupt;
  if (libusb_kernel_driver_active(u->h, u->iface) == 1) {
    if ((e = libusb_detach_kernel_driver(u->h, u->iface)) != 0) {
      rc = say(drv_rc(e), why, cap, "cannot take the USB %s from its kernel driver: %s", what,
               libusb_strerror(e));
      goto fail;
    }
    u->detached = 1;
  }
  if ((e = libusb_claim_interface(u->h, u->iface)) != 0) {
    rc = say(drv_rc(e), why, cap, "cannot claim the USB %s: %s%s", what, libusb_strerror(e),
             e == LIBUSB_ERROR_BUSY ? " (another program is using it)" : "");
    goto fail;
  }
  if (f.m.alt != 0)
    libusb_set_interface_alt_setting(u->h, u->iface, f.m.alt);
  if (kind == TG__USB_PRINTER)
    device_id(u->h, &f.m, 0, f.found.model);
  if (found != NULL)
    *found = f.found;
  *out = u;
  return TG__DRV_OK;
fail:
  tg__usb_close(u);
  return rc;
}

static int count_match(void *arg, libusb_device *dev, const struct libusb_device_descriptor *dd,
                       const usb_match *m) {
  find_ctx *f = arg;
  (void)dev;
  f->count += wanted(f, dd, m);
  return 0;
}

/* How many devices of f's kind, vendor and product are on the bus; or an error. */
static int present(libusb_context *ctx, find_ctx *f, char *why, size_t cap) {
  f->count = 0;
  int rc = walk(ctx, count_match, f, why, cap);
  return rc < 0 ? rc : f->count;
}

static int LIBUSB_CALL on_arrival(libusb_context *ctx, libusb_device *dev,
                                  libusb_hotplug_event event, void *arg) {
  (void)ctx;
  (void)dev;
  (void)event;
  *(int *)arg = 1;
  return 0; /* stay registered */
}

int tg__usb_wait_arrival(tg__usb_kind kind, uint16_t vid, uint16_t pid, int timeout_ms,
                         char *why, size_t cap) {
  libusb_context *ctx;
  libusb_hotplug_callback_handle cb;
  find_ctx f = {kind, vid, pid, NULL, {0}, {0}, 0};
  int before, now = 0, event = 0, hotplug;
  struct timespec t0, t;
  if ((before = start(&ctx, why, cap)) != 0)
    return before;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  hotplug = libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG) &&
            libusb_hotplug_register_callback(
                ctx, LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED, 0,
                vid != 0 ? vid : LIBUSB_HOTPLUG_MATCH_ANY, pid != 0 ? pid : LIBUSB_HOTPLUG_MATCH_ANY,
                LIBUSB_HOTPLUG_MATCH_ANY, on_arrival, &event, &cb) == LIBUSB_SUCCESS;
  before = present(ctx, &f, why, cap);
  for (int left = timeout_ms; before >= 0 && now <= before && left > 0;) {
    int step = left < POLL_MS ? left : POLL_MS;
    if (hotplug) { /* woken by the kernel's uevent; the look below confirms it is ours */
      struct timeval tv = {step / 1000, (step % 1000) * 1000};
      libusb_handle_events_timeout_completed(ctx, &tv, &event);
    } else {
      struct timespec ts = {step / 1000, (long)(step % 1000) * 1000000L};
      nanosleep(&ts, NULL);
    }
    if (!hotplug || event) {
      event = 0;
      if ((now = present(ctx, &f, why, cap)) < 0)
        break;
      if (now < before)
        before = now; /* one went away: the next one back counts */
    }
    clock_gettime(CLOCK_MONOTONIC, &t);
    left = timeout_ms - (int)((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
  }
  if (hotplug)
    libusb_hotplug_deregister_callback(ctx, cb);
  libusb_exit(ctx);
  return before < 0 ? before : now < 0 ? now : now > before;
}

int tg__usb_write(tg__usb_handle *u, const unsigned char *b, size_t n, int timeout_ms,
                  size_t *sent, char *why, size_t cap) {
  *sent = 0;
  if (u->out_ep == 0)
    return say(TG__DRV_UNSUPPORTED, why, cap, "this USB device takes no data");
  while (*sent < n) {
    int len = (int)(n - *sent < CHUNK ? n - *sent : CHUNK), done = 0;
    int e = libusb_bulk_transfer(u->h, u->out_ep, (unsigned char *)b + *sent, len, &done,
                                 (unsigned)timeout_ms);
    *sent += (size_t)(done > 0 ? done : 0);
    if (e != 0)
      return say(drv_rc(e), why, cap, "the USB printer %s after %zu of %zu bytes",
                 e == LIBUSB_ERROR_TIMEOUT     ? "stopped taking data"
                 : e == LIBUSB_ERROR_NO_DEVICE ? "was unplugged"
                                               : libusb_strerror(e),
                 *sent, n);
  }
  return TG__DRV_OK;
}

int tg__usb_read(tg__usb_handle *u, unsigned char *b, size_t n, int timeout_ms, size_t *got,
                 char *why, size_t cap) {
  int done = 0, e;
  *got = 0;
  if (u->in_ep == 0)
    return say(TG__DRV_UNSUPPORTED, why, cap, "this USB device has nothing to read");
  e = u->in_interrupt
          ? libusb_interrupt_transfer(u->h, u->in_ep, b, (int)n, &done, (unsigned)timeout_ms)
          : libusb_bulk_transfer(u->h, u->in_ep, b, (int)n, &done, (unsigned)timeout_ms);
  *got = (size_t)(done > 0 ? done : 0);
  if (e != 0 && !(e == LIBUSB_ERROR_TIMEOUT && *got > 0))
    return say(drv_rc(e), why, cap, "reading the USB device: %s",
               e == LIBUSB_ERROR_NO_DEVICE ? "it was unplugged" : libusb_strerror(e));
  return TG__DRV_OK;
}

void tg__usb_close(tg__usb_handle *u) {
  if (u == NULL)
    return;
  if (u->h != NULL) {
    libusb_release_interface(u->h, u->iface);
    if (u->detached)
      libusb_attach_kernel_driver(u->h, u->iface);
    libusb_close(u->h);
  }
  if (u->ctx != NULL)
    libusb_exit(u->ctx);
  free(u);
}
