// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* JSON output helpers (jsonout.h). */
#include <stdint.h>
#include <string.h>

#include "jsonout.h"

size_t json_utf8_len(const unsigned char *s, size_t left)
{
	size_t n;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n > left)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void json_put_string(FILE *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', out);
	for (size_t i = 0; i < len;) {
		size_t n = json_utf8_len(p + i, len - i);

		if (!n) {
			fputs("\\ufffd", out);
			i++;
			continue;
		}
		if (n == 1) {
			unsigned char ch = p[i];

			if (ch == '"' || ch == '\\')
				fprintf(out, "\\%c", ch);
			else if (ch == '\n')
				fputs("\\n", out);
			else if (ch == '\t')
				fputs("\\t", out);
			else if (ch == '\r')
				fputs("\\r", out);
			else if (ch < 0x20 || ch == 0x7f)
				fprintf(out, "\\u%04x", ch);
			else
				fputc(ch, out);
		} else {
			fwrite(p + i, 1, n, out);
		}
		i += n;
	}
	fputc('"', out);
}

void json_put_cstr(FILE *out, const char *s)
{
	if (!s)
		fputs("null", out);
	else
		json_put_string(out, s, strlen(s));
}
