/* libFuzzer target for the track-table CSV reader (src/common/tracks.c): the input is written to a scratch
 * file and read with sm_tracks_read_csv; a table that reads is written back and read again, and must give
 * the same number of rows. Seeds: fuzz/corpus/fuzz_tracks_csv/. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "samem/tracks.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[256], path2[256];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    snprintf(path, sizeof path, "/tmp/samem_fuzz_csv_%ld.csv", (long)getpid());
    snprintf(path2, sizeof path2, "/tmp/samem_fuzz_csv_%ld_out.csv", (long)getpid());
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return 0;
    fwrite(data, 1, size, fp);
    fclose(fp);
    sm_error err = {0};
    sm_tracks *t = NULL;
    if (sm_tracks_read_csv(&t, path, &err) == 0) {
        if (sm_tracks_write_csv(t, path2, SM_COLS_TRACK | SM_COL_SCORE | SM_COL_ERR | SM_COL_VISIBLE, &err) == 0) {
            sm_tracks *back = NULL;
            if (sm_tracks_read_csv(&back, path2, &err) != 0 || back->n != t->n) abort();
            sm_tracks_destroy(back);
            unlink(path2);
        }
        sm_tracks_destroy(t);
    }
    unlink(path);
    return 0;
}
