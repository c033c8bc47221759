/*
 * The tap of a template VM on a bridge (issue 22). The template VM is
 * spawned by the template job, not by the core, so the bridge module makes
 * it none; its snapshot must not hold user-networking (slirp) state either,
 * which the taps of its clones could not load. Its clones are on the same
 * bridge, each with a MAC of its own (vm-template.c).
 */
#ifndef VMSUP_TMPL_TAP_H
#define VMSUP_TMPL_TAP_H

#include "src/qemu/spec.h"

struct vmsup;

/* 0 unless spec is on a bridge where no tap can be made (-1: vm_tap_usable). */
int tmpl_tap_check(const struct vm_spec *spec, const char **cls, char **err);

/* For a spec on a bridge: the tap's descriptor into *fd (qemu's, through
 * the spawn), named apart from any VM's tap (a VM may have the template's
 * name); it goes when qemu and the job have closed it. 0 (*fd untouched
 * off a bridge), or -1 with *err. */
int tmpl_tap_open(const struct vm_spec *spec, int *fd, char **err);

/* The template VM's MAC: its name's, unless a VM of sup has that one
 * (on a bridge they would meet; rehashed as vm_mac_unique does). */
int tmpl_tap_mac(struct vmsup *sup, const char *name, char mac[18], char **err);

#endif
