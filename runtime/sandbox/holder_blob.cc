// The static kernlet-pod-holder binary, included byte for byte (ccache refuses to cache a
// file with .incbin, so a rebuilt holder is always picked up).
#ifndef KERNLET_HOLDER_PATH
#error "KERNLET_HOLDER_PATH must name the built kernlet-pod-holder"
#endif
__asm__(
    ".section .rodata\n"
    ".balign 16\n"
    ".global kl_holder_blob_start\n"
    "kl_holder_blob_start:\n"
    ".incbin \"" KERNLET_HOLDER_PATH "\"\n"
    ".global kl_holder_blob_end\n"
    "kl_holder_blob_end:\n"
    ".byte 0\n"
    ".previous\n");
