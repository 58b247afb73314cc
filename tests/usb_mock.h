/*
 * An emulated USB bus for the driver tests: a umockdev testbed whose device
 * nodes are answered by an in-process usbdevfs ioctl handler, so that the
 * unmodified libusb in drivers/ talks to a receipt printer and a HID scanner
 * that do not exist. Nothing in drivers/ knows about it. Test binaries using
 * it must run preloaded (umockdev-wrapper or LD_PRELOAD=libumockdev-preload.so.0).
 */
#ifndef TG_TESTS_USB_MOCK_H
#define TG_TESTS_USB_MOCK_H

#include <stddef.h>
#include <stdint.h>

typedef struct tt_usb_mock tt_usb_mock;
typedef struct tt_usb_dev tt_usb_dev;

/*
 * Starts an empty testbed whose device nodes are answered by this process
 * (child processes reach them too, through umockdev's socket). Returns
 * NULL with why filled when the process is not preloaded with umockdev (the
 * caller skips with that reason) or the testbed cannot start.
 */
tt_usb_mock *tt_usb_mock_new(char *why, size_t cap);
/* Unplugs every device and removes the testbed. Accepts NULL. */
void tt_usb_mock_free(tt_usb_mock *m);

/*
 * Adds an ESC/POS receipt printer: one interface of class 7 (printer,
 * subclass 1, protocol 2) with bulk OUT endpoint 0x01 and bulk IN 0x82,
 * bound to the kernel driver "usblp". GET_DEVICE_ID (class request 0 on the
 * interface) answers device_id (an IEEE 1284 string such as
 * "MFG:EPSON;CMD:ESC/POS;MDL:TM-T20II;CLS:PRINTER;") with its 2-byte
 * big-endian length in front. Every DLE EOT n (0x10 0x04 n, n 1..4) received
 * on bulk OUT queues the status byte set for n (default: all clear, 0x12) for
 * the next bulk IN. Returns the device, owned by m.
 */
tt_usb_dev *tt_usb_mock_add_printer(tt_usb_mock *m, uint16_t vid, uint16_t pid,
                                    const char *device_id);
/*
 * Adds a HID boot-keyboard barcode scanner: one interface of class 3,
 * subclass 1, protocol 1, interrupt IN endpoint 0x81 (8-byte reports), bound
 * to "usbhid". Returns the device, owned by m.
 */
tt_usb_dev *tt_usb_mock_add_scanner(tt_usb_mock *m, uint16_t vid, uint16_t pid);
/*
 * Adds a device whose descriptors attribute is desc[0..n) as given (for
 * malformed ones); no kernel driver is bound to it and no transfer succeeds.
 */
tt_usb_dev *tt_usb_mock_add_raw(tt_usb_mock *m, const unsigned char *desc, size_t n);
/*
 * Unplugs d: a "remove" uevent is sent, its sysfs entry goes, transfers in
 * flight end as a real unplug ends them (-ENODEV) and every later ioctl on
 * its node fails with ENODEV. d stays readable until tt_usb_mock_free(); add
 * the device again to replug it (it comes back at a new address).
 */
void tt_usb_mock_remove(tt_usb_mock *m, tt_usb_dev *d);

/* Copies up to cap of the bytes d received on bulk OUT so far; returns how many it holds in all. */
size_t tt_usb_printer_received(tt_usb_dev *d, unsigned char *out, size_t cap);
/* Forgets the bytes received so far. */
void tt_usb_printer_clear(tt_usb_dev *d);
/* Sets the status byte d answers to DLE EOT n (n 1..4). */
void tt_usb_printer_set_status(tt_usb_dev *d, int n, unsigned char status);

typedef enum {
  TT_USB_OK = 0,     /* transfers complete */
  TT_USB_STALL_OUT,  /* bulk OUT URBs past the limit are never reaped (the host times out) */
  TT_USB_SILENT_IN,  /* bulk IN URBs are never answered (the host times out) */
  TT_USB_UNPLUG_OUT, /* after the limit, the device is unplugged as by tt_usb_mock_remove */
} tt_usb_fault;
/* Makes d misbehave once it has received `after` bytes on bulk OUT. */
void tt_usb_printer_fault(tt_usb_dev *d, tt_usb_fault fault, size_t after);

/* Queues one 8-byte boot-keyboard report for the scanner's next interrupt IN. */
void tt_usb_scanner_feed(tt_usb_dev *d, const unsigned char report[8]);

/* 1 once the host detached d's kernel driver (USBDEVFS_DISCONNECT or DISCONNECT_CLAIM). */
int tt_usb_dev_detached(const tt_usb_dev *d);
/* The devfs node, such as "/dev/bus/usb/001/002", for messages. */
const char *tt_usb_dev_node(const tt_usb_dev *d);

#endif
