/* Error reporting and size checks: one readable line per failure, filled by the function that failed. */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "samem/common.h"

int sm_error_set(sm_error *err, int code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int sm_error_prefix(sm_error *err, const char *fmt, ...) {
    if (!err) return SM_EINTERNAL;
    char prefix[256], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
    return err->code ? err->code : SM_EINTERNAL;
}

int sm_error_exit_code(int code) {
    switch (code) {
    case SM_OK: return 0;
    case SM_EUSAGE: return 1;
    case SM_EINVAL:
    case SM_EIO:
    case SM_EFORMAT:
    case SM_ENOMEM: return 2;
    default: return 3;
    }
}

size_t sm_max_alloc(void) {
    const char *env = getenv("SAMEM_MAX_ALLOC");
    if (env && *env) {
        char *end;
        unsigned long long v = strtoull(env, &end, 10);
        if (*end == 0 && v > 0) return (size_t)v;
    }
    return (size_t)8 << 30;
}

int sm_size_mul(size_t *out, size_t a, size_t b, size_t c, const char *what, sm_error *err) {
    size_t ab, abc;
    if (__builtin_mul_overflow(a, b, &ab) || __builtin_mul_overflow(ab, c, &abc))
        return sm_error_set(err, SM_ENOMEM, "%s: size overflows", what);
    if (abc > sm_max_alloc())
        return sm_error_set(err, SM_ENOMEM, "%s: needs %zu bytes, over the %zu-byte limit (SAMEM_MAX_ALLOC)", what,
                            abc, sm_max_alloc());
    *out = abc;
    return 0;
}
