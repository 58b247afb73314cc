/*
 * The emulated USB bus (usb_mock.h): devices are umockdev sysfs entries with
 * binary descriptors, and their device nodes are answered here, ioctl by
 * ioctl, the way the kernel's usbdevfs answers libusb. URBs are kept as
 * umockdev's copies of the caller's struct usbdevfs_urb: a submitted one is
 * either done (reaped by the next REAPURB[NDELAY]) or in flight (an IN
 * transfer waiting for data, or one a fault stalls) until data comes, it is
 * discarded, or the device is unplugged.
 *
 * umockdev answers ioctls on a thread of its own; everything here is under
 * the mock's mutex.
 */
#include <errno.h>
#include <glib.h>
#include <sys/ioctl.h>
#include <linux/usbdevice_fs.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <umockdev.h>

#include "usb_mock.h"

#define REPORTS_MAX 4096 /* queued scanner reports */
#define IN_MAX 64        /* queued status bytes */

typedef enum { DEV_PRINTER, DEV_SCANNER, DEV_RAW } dev_kind;

struct tt_usb_dev {
  tt_usb_mock *m;
  dev_kind kind;
  int devnum;
  char syspath[128]; /* as the testbed names it: /sys/devices/... */
  char node[64];     /* /dev/bus/usb/001/NNN */
  int unplugged, detached;
  char device_id[256];
  unsigned char *received;
  size_t n_received, cap_received, eot_scan; /* eot_scan: where the DLE EOT search goes on */
  unsigned char status[5];                   /* answers to DLE EOT 1..4 */
  unsigned char in[IN_MAX];                  /* status bytes for the next bulk IN */
  size_t n_in;
  tt_usb_fault fault;
  size_t fault_after;
  unsigned char (*reports)[8];
  size_t report_head, report_tail;
  tt_usb_dev *next;
};

/* One submitted URB: umockdev's copy of it, and the device it went to. */
typedef struct urb_entry {
  UMockdevIoctlData *data;
  tt_usb_dev *dev;
  struct urb_entry *next;
} urb_entry;

struct tt_usb_mock {
  UMockdevTestbed *bed;
  UMockdevIoctlBase *handler;
  pthread_mutex_t mu;
  tt_usb_dev *devs;
  int next_devnum;
  urb_entry *flying; /* submitted, not complete */
  urb_entry *done;   /* complete, to be reaped in order */
};

static struct usbdevfs_urb *urb_of(const urb_entry *e) {
  return (struct usbdevfs_urb *)e->data->data;
}

static void push(urb_entry **list, urb_entry *e) {
  e->next = NULL;
  while (*list != NULL)
    list = &(*list)->next;
  *list = e;
}

/* Completes e with status and length: it moves to the done list. */
static void finish(tt_usb_mock *m, urb_entry *e, int status, int length) {
  urb_of(e)->status = status;
  urb_of(e)->actual_length = length;
  push(&m->done, e);
}

/* Takes the first in-flight URB to d matching endpoint ep (any when ep is 0) off the list. */
static urb_entry *take_flying(tt_usb_mock *m, const tt_usb_dev *d, int ep) {
  for (urb_entry **p = &m->flying; *p != NULL; p = &(*p)->next) {
    urb_entry *e = *p;
    if (e->dev == d && (ep == 0 || urb_of(e)->endpoint == ep)) {
      *p = e->next;
      return e;
    }
  }
  return NULL;
}

static tt_usb_dev *dev_at(tt_usb_mock *m, const char *node) {
  for (tt_usb_dev *d = m->devs; d != NULL; d = d->next)
    if (strcmp(d->node, node) == 0)
      return d;
  return NULL;
}

/* Unplugs d: its uevent, its sysfs entry gone, every URB in flight ended with -ENODEV. */
static void unplug(tt_usb_mock *m, tt_usb_dev *d) {
  urb_entry *e;
  if (d->unplugged)
    return;
  d->unplugged = 1;
  umockdev_testbed_uevent(m->bed, d->syspath, "remove");
  umockdev_testbed_remove_device(m->bed, d->syspath);
  while ((e = take_flying(m, d, 0)) != NULL)
    finish(m, e, -ENODEV, 0);
}

/* Answers an IN URB waiting on a printer's bulk IN with the queued status bytes. */
static void answer_status(tt_usb_mock *m, tt_usb_dev *d) {
  urb_entry *e;
  if (d->n_in == 0 || d->fault == TT_USB_SILENT_IN || (e = take_flying(m, d, 0x82)) == NULL)
    return;
  struct usbdevfs_urb *u = urb_of(e);
  size_t n = d->n_in < (size_t)u->buffer_length ? d->n_in : (size_t)u->buffer_length;
  memcpy(u->buffer, d->in, n);
  memmove(d->in, d->in + n, d->n_in - n);
  d->n_in -= n;
  finish(m, e, 0, (int)n);
}

/* Answers a scanner's interrupt IN waiting for a report. */
static void answer_report(tt_usb_mock *m, tt_usb_dev *d) {
  urb_entry *e;
  if (d->report_head == d->report_tail || (e = take_flying(m, d, 0x81)) == NULL)
    return;
  struct usbdevfs_urb *u = urb_of(e);
  int n = u->buffer_length < 8 ? u->buffer_length : 8;
  memcpy(u->buffer, d->reports[d->report_head % REPORTS_MAX], (size_t)n);
  d->report_head++;
  finish(m, e, 0, n);
}

/* Keeps bulk OUT bytes; every complete DLE EOT n queues its status byte. */
static void printer_take(tt_usb_dev *d, const unsigned char *b, size_t n) {
  if (d->n_received + n > d->cap_received) {
    size_t cap = d->cap_received ? d->cap_received : 4096;
    while (cap < d->n_received + n)
      cap *= 2;
    d->received = g_realloc(d->received, cap);
    d->cap_received = cap;
  }
  memcpy(d->received + d->n_received, b, n);
  d->n_received += n;
  for (; d->eot_scan + 3 <= d->n_received; d->eot_scan++) {
    const unsigned char *z = d->received + d->eot_scan;
    if (z[0] == 0x10 && z[1] == 0x04 && z[2] >= 1 && z[2] <= 4 && d->n_in < IN_MAX)
      d->in[d->n_in++] = d->status[z[2]];
  }
}

/* A control transfer: GET_DEVICE_ID for printers; anything else stalls. */
static void control(tt_usb_mock *m, tt_usb_dev *d, urb_entry *e) {
  struct usbdevfs_urb *u = urb_of(e);
  unsigned char *b = u->buffer;
  int want = u->buffer_length - 8;
  if (d->kind == DEV_PRINTER && u->buffer_length >= 8 && b[0] == 0xA1 && b[1] == 0) {
    size_t len = strlen(d->device_id) + 2;
    unsigned char id[sizeof d->device_id + 2];
    id[0] = (unsigned char)(len >> 8);
    id[1] = (unsigned char)len;
    memcpy(id + 2, d->device_id, len - 2);
    int n = (int)len < want ? (int)len : want;
    memcpy(b + 8, id, (size_t)n);
    finish(m, e, 0, n);
    return;
  }
  finish(m, e, -EPIPE, 0);
}

/* A bulk OUT to a printer, with the fault it was given. */
static void bulk_out(tt_usb_mock *m, tt_usb_dev *d, urb_entry *e) {
  struct usbdevfs_urb *u = urb_of(e);
  size_t n = (size_t)u->buffer_length, room = SIZE_MAX;
  if (d->fault != TT_USB_OK && d->fault != TT_USB_SILENT_IN)
    room = d->n_received >= d->fault_after ? 0 : d->fault_after - d->n_received;
  if (d->fault == TT_USB_STALL_OUT && room == 0) {
    push(&m->flying, e); /* the host's timeout discards it */
    return;
  }
  if (n > room)
    n = room;
  printer_take(d, u->buffer, n);
  if (d->fault == TT_USB_UNPLUG_OUT && room != SIZE_MAX && n == room) {
    finish(m, e, -ENODEV, (int)n); /* cut off with the cable */
    unplug(m, d);
    return;
  }
  finish(m, e, 0, (int)n);
  answer_status(m, d);
}

static void submit(tt_usb_mock *m, tt_usb_dev *d, UMockdevIoctlClient *client,
                   UMockdevIoctlData *arg) {
  UMockdevIoctlData *data = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_urb), NULL);
  if (data == NULL) {
    umockdev_ioctl_client_complete(client, -1, EFAULT);
    return;
  }
  struct usbdevfs_urb *u = (struct usbdevfs_urb *)data->data;
  UMockdevIoctlData *buf = umockdev_ioctl_data_resolve(
      data, G_STRUCT_OFFSET(struct usbdevfs_urb, buffer), (gsize)u->buffer_length, NULL);
  if (buf == NULL) {
    umockdev_ioctl_data_unref(data);
    umockdev_ioctl_client_complete(client, -1, EFAULT);
    return;
  }
  umockdev_ioctl_data_unref(buf); /* the URB's copy keeps it */
  urb_entry *e = g_new0(urb_entry, 1);
  e->data = data;
  e->dev = d;
  umockdev_ioctl_client_complete(client, 0, 0);
  if (u->type == USBDEVFS_URB_TYPE_CONTROL && u->endpoint == 0) {
    control(m, d, e);
  } else if (d->kind == DEV_PRINTER && u->type == USBDEVFS_URB_TYPE_BULK && u->endpoint == 0x01) {
    bulk_out(m, d, e);
  } else if (d->kind == DEV_PRINTER && u->type == USBDEVFS_URB_TYPE_BULK && u->endpoint == 0x82) {
    push(&m->flying, e);
    answer_status(m, d);
  } else if (d->kind == DEV_SCANNER && u->type == USBDEVFS_URB_TYPE_INTERRUPT &&
             u->endpoint == 0x81) {
    push(&m->flying, e);
    answer_report(m, d);
  } else {
    finish(m, e, -EPIPE, 0); /* no such endpoint: a stall */
  }
}

static void reap(tt_usb_mock *m, tt_usb_dev *d, UMockdevIoctlClient *client,
                 UMockdevIoctlData *arg) {
  for (urb_entry **p = &m->done; *p != NULL; p = &(*p)->next) {
    urb_entry *e = *p;
    if (e->dev != d)
      continue;
    *p = e->next;
    UMockdevIoctlData *ptr = umockdev_ioctl_data_resolve(arg, 0, sizeof(void *), NULL);
    umockdev_ioctl_data_set_ptr(ptr, 0, e->data);
    umockdev_ioctl_client_complete(client, 0, 0);
    umockdev_ioctl_data_unref(ptr);
    umockdev_ioctl_data_unref(e->data);
    g_free(e);
    return;
  }
  umockdev_ioctl_client_complete(client, -1, d->unplugged ? ENODEV : EAGAIN);
}

static void discard(tt_usb_mock *m, tt_usb_dev *d, UMockdevIoctlClient *client,
                    UMockdevIoctlData *arg) {
  gulong addr = (gulong) * (void **)arg->data;
  for (urb_entry **p = &m->flying; *p != NULL; p = &(*p)->next) {
    urb_entry *e = *p;
    if (e->dev == d && e->data->client_addr == addr) {
      *p = e->next;
      finish(m, e, -ENOENT, 0);
      umockdev_ioctl_client_complete(client, 0, 0);
      return;
    }
  }
  umockdev_ioctl_client_complete(client, -1, EINVAL);
}

/* The kernel driver bound to the interface until the host detaches it. */
static const char *driver_of(const tt_usb_dev *d) {
  return d->kind == DEV_PRINTER ? "usblp" : d->kind == DEV_SCANNER ? "usbhid" : NULL;
}

static gboolean on_ioctl(UMockdevIoctlBase *base, UMockdevIoctlClient *client, gpointer arg_m) {
  tt_usb_mock *m = arg_m;
  (void)base;
  gulong request = umockdev_ioctl_client_get_request(client);
  UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
  pthread_mutex_lock(&m->mu);
  tt_usb_dev *d = dev_at(m, umockdev_ioctl_client_get_devnode(client));
  gboolean handled = TRUE;
  if (d == NULL) {
    handled = FALSE;
  } else if (request == USBDEVFS_REAPURB || request == USBDEVFS_REAPURBNDELAY) {
    reap(m, d, client, arg); /* URBs ended by an unplug are still reaped */
  } else if (d->unplugged) {
    umockdev_ioctl_client_complete(client, -1, ENODEV);
  } else if (request == USBDEVFS_SUBMITURB) {
    submit(m, d, client, arg);
  } else if (request == USBDEVFS_DISCARDURB) {
    discard(m, d, client, arg);
  } else if (request == USBDEVFS_GET_CAPABILITIES) {
    UMockdevIoctlData *c = umockdev_ioctl_data_resolve(arg, 0, sizeof(guint32), NULL);
    *(guint32 *)c->data = USBDEVFS_CAP_BULK_CONTINUATION | USBDEVFS_CAP_NO_PACKET_SIZE_LIM |
                          USBDEVFS_CAP_REAP_AFTER_DISCONNECT | USBDEVFS_CAP_ZERO_PACKET;
    umockdev_ioctl_client_complete(client, 0, 0);
    umockdev_ioctl_data_unref(c);
  } else if (request == USBDEVFS_GETDRIVER) {
    UMockdevIoctlData *g =
        umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_getdriver), NULL);
    struct usbdevfs_getdriver *gd = (struct usbdevfs_getdriver *)g->data;
    if (d->detached || driver_of(d) == NULL) {
      umockdev_ioctl_client_complete(client, -1, ENODATA);
    } else {
      snprintf(gd->driver, sizeof gd->driver, "%s", driver_of(d));
      umockdev_ioctl_client_complete(client, 0, 0);
    }
    umockdev_ioctl_data_unref(g);
  } else if (request == USBDEVFS_IOCTL) {
    UMockdevIoctlData *c = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_ioctl), NULL);
    int code = ((struct usbdevfs_ioctl *)c->data)->ioctl_code;
    umockdev_ioctl_data_unref(c);
    if (code == USBDEVFS_DISCONNECT && !d->detached && driver_of(d) != NULL) {
      d->detached = 1;
      umockdev_ioctl_client_complete(client, 0, 0);
    } else if (code == USBDEVFS_CONNECT) {
      d->detached = 0;
      umockdev_ioctl_client_complete(client, 0, 0);
    } else {
      umockdev_ioctl_client_complete(client, -1, ENODATA);
    }
  } else if (request == USBDEVFS_DISCONNECT_CLAIM) {
    d->detached = 1;
    umockdev_ioctl_client_complete(client, 0, 0);
  } else if (request == USBDEVFS_CLAIMINTERFACE || request == USBDEVFS_RELEASEINTERFACE ||
             request == USBDEVFS_SETINTERFACE || request == USBDEVFS_CLEAR_HALT ||
             request == USBDEVFS_RESETEP || request == USBDEVFS_RESET) {
    umockdev_ioctl_client_complete(client, 0, 0);
  } else {
    handled = FALSE;
  }
  pthread_mutex_unlock(&m->mu);
  return handled;
}

tt_usb_mock *tt_usb_mock_new(char *why, size_t cap) {
  UMockdevTestbed *bed = umockdev_testbed_new(); /* the check below needs a testbed */
  if (!umockdev_in_mock_environment()) {
    g_object_unref(bed);
    snprintf(why, cap, "not running under umockdev-wrapper (LD_PRELOAD=libumockdev-preload.so.0)");
    return NULL;
  }
  tt_usb_mock *m = g_new0(tt_usb_mock, 1);
  pthread_mutex_init(&m->mu, NULL);
  m->bed = bed;
  m->handler = umockdev_ioctl_base_new();
  m->next_devnum = 2;
  g_signal_connect(m->handler, "handle-ioctl", G_CALLBACK(on_ioctl), m);
  return m;
}

static void free_list(urb_entry *e) {
  while (e != NULL) {
    urb_entry *next = e->next;
    umockdev_ioctl_data_unref(e->data);
    g_free(e);
    e = next;
  }
}

void tt_usb_mock_free(tt_usb_mock *m) {
  if (m == NULL)
    return;
  pthread_mutex_lock(&m->mu);
  for (tt_usb_dev *d = m->devs; d != NULL; d = d->next)
    unplug(m, d);
  pthread_mutex_unlock(&m->mu);
  g_object_unref(m->handler);
  g_object_unref(m->bed);
  free_list(m->flying);
  free_list(m->done);
  while (m->devs != NULL) {
    tt_usb_dev *d = m->devs;
    m->devs = d->next;
    g_free(d->received);
    g_free(d->reports);
    g_free(d);
  }
  pthread_mutex_destroy(&m->mu);
  g_free(m);
}

/* Adds a device on bus 1 with descriptors desc[0..n), its node answered by the mock. */
static tt_usb_dev *add(tt_usb_mock *m, dev_kind kind, const unsigned char *desc, size_t n) {
  tt_usb_dev *d = g_new0(tt_usb_dev, 1);
  d->m = m;
  d->kind = kind;
  for (int i = 1; i <= 4; i++)
    d->status[i] = 0x12; /* all clear */
  pthread_mutex_lock(&m->mu);
  d->devnum = m->next_devnum++;
  snprintf(d->node, sizeof d->node, "/dev/bus/usb/001/%03d", d->devnum);
  d->next = m->devs;
  m->devs = d;
  pthread_mutex_unlock(&m->mu);
  /* the handler first, so that the node answers as soon as the add uevent is out */
  umockdev_testbed_attach_ioctl(m->bed, d->node, m->handler, NULL);
  GString *s = g_string_new(NULL);
  g_string_append_printf(s,
                         "P: /devices/pci0000:00/0000:00:14.0/usb1/1-%d\n"
                         "N: bus/usb/001/%03d\n"
                         "E: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\nE: DRIVER=usb\n"
                         "E: BUSNUM=001\nE: DEVNUM=%03d\nE: DEVNAME=%s\n"
                         "A: busnum=1\\n\nA: devnum=%d\\n\nA: bConfigurationValue=1\\n\n"
                         "A: speed=12\\n\nH: descriptors=",
                         d->devnum, d->devnum, d->devnum, d->node, d->devnum);
  for (size_t i = 0; i < n; i++)
    g_string_append_printf(s, "%02x", desc[i]);
  g_string_append_c(s, '\n');
  umockdev_testbed_add_from_string(m->bed, s->str, NULL);
  g_string_free(s, TRUE);
  snprintf(d->syspath, sizeof d->syspath, "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-%d",
           d->devnum);
  return d;
}

/* A device descriptor and one configuration of one interface; ends at the interface's body. */
static size_t head(unsigned char *b, uint16_t vid, uint16_t pid, size_t total,
                   const unsigned char iface[9]) {
  const unsigned char dev[18] = {18, 1, 0x00, 0x02, 0, 0, 0, 64, vid & 0xff, vid >> 8,
                                 pid & 0xff, pid >> 8, 0x00, 0x01, 1, 2, 3, 1};
  const unsigned char cfg[9] = {9, 2, total & 0xff, total >> 8, 1, 1, 0, 0xC0, 50};
  memcpy(b, dev, 18);
  memcpy(b + 18, cfg, 9);
  memcpy(b + 27, iface, 9);
  return 36;
}

tt_usb_dev *tt_usb_mock_add_printer(tt_usb_mock *m, uint16_t vid, uint16_t pid,
                                    const char *device_id) {
  static const unsigned char iface[9] = {9, 4, 0, 0, 2, 7, 1, 2, 0};
  static const unsigned char eps[14] = {7, 5, 0x01, 2, 64, 0, 0, 7, 5, 0x82, 2, 64, 0, 0};
  unsigned char desc[64];
  size_t n = head(desc, vid, pid, 9 + 9 + sizeof eps, iface);
  memcpy(desc + n, eps, sizeof eps);
  tt_usb_dev *d = add(m, DEV_PRINTER, desc, n + sizeof eps);
  pthread_mutex_lock(&m->mu);
  snprintf(d->device_id, sizeof d->device_id, "%s", device_id);
  pthread_mutex_unlock(&m->mu);
  return d;
}

tt_usb_dev *tt_usb_mock_add_scanner(tt_usb_mock *m, uint16_t vid, uint16_t pid) {
  static const unsigned char iface[9] = {9, 4, 0, 0, 1, 3, 1, 1, 0};
  static const unsigned char rest[16] = {9, 0x21, 0x11, 0x01, 0, 1, 0x22, 63, 0, /* HID */
                                         7, 5, 0x81, 3, 8, 0, 10};
  unsigned char desc[64];
  size_t n = head(desc, vid, pid, 9 + 9 + sizeof rest, iface);
  memcpy(desc + n, rest, sizeof rest);
  tt_usb_dev *d = add(m, DEV_SCANNER, desc, n + sizeof rest);
  pthread_mutex_lock(&m->mu);
  d->reports = g_malloc0(8 * REPORTS_MAX);
  pthread_mutex_unlock(&m->mu);
  return d;
}

tt_usb_dev *tt_usb_mock_add_raw(tt_usb_mock *m, const unsigned char *desc, size_t n) {
  return add(m, DEV_RAW, desc, n);
}

void tt_usb_mock_remove(tt_usb_mock *m, tt_usb_dev *d) {
  pthread_mutex_lock(&m->mu);
  unplug(m, d);
  pthread_mutex_unlock(&m->mu);
}

size_t tt_usb_printer_received(tt_usb_dev *d, unsigned char *out, size_t cap) {
  pthread_mutex_lock(&d->m->mu);
  size_t n = d->n_received;
  if (out != NULL)
    memcpy(out, d->received, n < cap ? n : cap);
  pthread_mutex_unlock(&d->m->mu);
  return n;
}

void tt_usb_printer_clear(tt_usb_dev *d) {
  pthread_mutex_lock(&d->m->mu);
  d->n_received = d->eot_scan = 0;
  pthread_mutex_unlock(&d->m->mu);
}

void tt_usb_printer_set_status(tt_usb_dev *d, int n, unsigned char status) {
  pthread_mutex_lock(&d->m->mu);
  if (n >= 1 && n <= 4)
    d->status[n] = status;
  pthread_mutex_unlock(&d->m->mu);
}

void tt_usb_printer_fault(tt_usb_dev *d, tt_usb_fault fault, size_t after) {
  pthread_mutex_lock(&d->m->mu);
  d->fault = fault;
  d->fault_after = after;
  pthread_mutex_unlock(&d->m->mu);
}

void tt_usb_scanner_feed(tt_usb_dev *d, const unsigned char report[8]) {
  pthread_mutex_lock(&d->m->mu);
  if (d->report_tail - d->report_head < REPORTS_MAX) {
    memcpy(d->reports[d->report_tail % REPORTS_MAX], report, 8);
    d->report_tail++;
  }
  answer_report(d->m, d);
  pthread_mutex_unlock(&d->m->mu);
}

int tt_usb_dev_detached(const tt_usb_dev *d) {
  pthread_mutex_lock(&d->m->mu);
  int r = d->detached;
  pthread_mutex_unlock(&d->m->mu);
  return r;
}

const char *tt_usb_dev_node(const tt_usb_dev *d) {
  return d->node;
}
