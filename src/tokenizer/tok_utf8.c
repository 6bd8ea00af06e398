/* tok_utf8.c — UTF-8 helpers of the tokenizer: strict validation, lossy decoding
 * (as Rust's String::from_utf8_lossy, which `tokenizers` uses), the GPT-2 ByteLevel
 * byte ↔ character map, and the character classes the added-token rules need. */
#include <string.h>
#include <utf8proc.h>

#include "tokenizer.h"

/* Length of a valid sequence starting at s[0..n), or 0 with *bad set to the
 * length of the maximal invalid prefix (≥ 1) that one U+FFFD replaces. */
static size_t utf8_seq(const unsigned char *s, size_t n, size_t *bad)
{
    unsigned char b0 = s[0];
    *bad = 1;
    if (b0 < 0x80) return 1;
    size_t width;
    unsigned char lo = 0x80, hi = 0xBF;  /* allowed range of the second byte */
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        width = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        width = 3;
        if (b0 == 0xE0) lo = 0xA0;
        if (b0 == 0xED) hi = 0x9F;  /* no surrogates */
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        width = 4;
        if (b0 == 0xF0) lo = 0x90;
        if (b0 == 0xF4) hi = 0x8F;  /* ≤ U+10FFFF */
    } else {
        return 0;
    }
    if (n < 2 || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < width; i++) {
        if (i >= n || (s[i] & 0xC0) != 0x80) {
            *bad = i;
            return 0;
        }
    }
    return width;
}

size_t tok_utf8_valid_prefix(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, bad;
    while (i < n) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t w = utf8_seq(u + i, n - i, &bad);
        if (!w) return i;
        i += w;
    }
    return n;
}

int tok_utf8_decode(const char *s, int32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    if (u[0] < 0x80) {
        *cp = u[0];
        return 1;
    }
    if (u[0] < 0xE0) {
        *cp = ((u[0] & 0x1F) << 6) | (u[1] & 0x3F);
        return 2;
    }
    if (u[0] < 0xF0) {
        *cp = ((u[0] & 0x0F) << 12) | ((u[1] & 0x3F) << 6) | (u[2] & 0x3F);
        return 3;
    }
    *cp = ((u[0] & 0x07) << 18) | ((u[1] & 0x3F) << 12) | ((u[2] & 0x3F) << 6) | (u[3] & 0x3F);
    return 4;
}

xf_status tok_utf8_append_lossy(tok_buf *out, const char *s, size_t n)
{
    static const char replacement[] = "\xEF\xBF\xBD";  /* U+FFFD */
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t start = i, bad = 0;
        while (i < n) {
            size_t w = u[i] < 0x80 ? 1 : utf8_seq(u + i, n - i, &bad);
            if (!w) break;
            i += w;
        }
        xf_status st = tok_buf_append(out, s + start, i - start);
        if (st != XF_OK) return st;
        if (i < n) {
            st = tok_buf_append(out, replacement, 3);
            if (st != XF_OK) return st;
            i += bad;
        }
    }
    return XF_OK;
}

/* GPT-2's bytes_to_unicode maps the printable Latin-1 bytes to themselves and the other
 * 68 bytes (0-32, 127-160, 173) to U+0100 upwards, in byte order; this is its inverse. */
int tok_bytelevel_byte(int32_t cp)
{
    if ((cp >= 33 && cp <= 126) || (cp >= 161 && cp <= 172) || (cp >= 174 && cp <= 255)) return cp;
    if (cp >= 256 && cp <= 288) return cp - 256;
    if (cp >= 289 && cp <= 322) return cp - 289 + 127;
    if (cp == 323) return 173;
    return -1;
}

int tok_bytelevel_unmap(const char *s, size_t len, char *out, size_t *out_len)
{
    size_t i = 0, o = 0;
    while (i < len) {
        int32_t cp;
        i += (size_t)tok_utf8_decode(s + i, &cp);
        int b = tok_bytelevel_byte(cp);
        if (b < 0) return 0;
        out[o++] = (char)b;
    }
    *out_len = o;
    return 1;
}

int tok_is_whitespace(int32_t cp)
{
    return (cp >= 9 && cp <= 13) || cp == 32 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000;
}

/* Rust regex's \w, which the single_word rule of `tokenizers` uses: Alphabetic, marks,
 * decimal digits, connector punctuation and the joiners. */
int tok_is_word_char(int32_t cp)
{
    if (cp == 0x200C || cp == 0x200D || tok_word_char_new(cp)) return 1;
    /* Other_Alphabetic symbols: circled, parenthesized and squared Latin letters */
    if ((cp >= 0x24B6 && cp <= 0x24E9) || (cp >= 0x1F130 && cp <= 0x1F149) ||
        (cp >= 0x1F150 && cp <= 0x1F169) || (cp >= 0x1F170 && cp <= 0x1F189))
        return 1;
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_PC:
        return 1;
    default:
        return 0;
    }
}
