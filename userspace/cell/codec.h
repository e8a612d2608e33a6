/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * A schema-driven JSON codec for `cell call`: a message of any struct of a
 * schema parsed at run time (cellc's front end: parse_schema() and
 * check_schema() give the same layout the generated headers use) built
 * from a JSON object, and a received message printed as JSON, every
 * offset and length checked first (the rules of the generated validators,
 * Documentation/cellc.rst "Validation").
 *
 * JSON mapping: integers and bool as JSON numbers and true/false (range
 * checked), string as a string, bytes as a string (its UTF-8 bytes) or an
 * array of 0..255 (printed as a string when they are valid UTF-8, else as
 * such an array), nested structs as objects, arrays and vectors as JSON
 * arrays (a fixed array may be given shorter: the rest is zero).  Missing
 * fields are zero; unknown fields are refused.
 */
#ifndef CELL_CODEC_H
#define CELL_CODEC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cellc.h"
#include "json.h"

/**
 * codec_encode() - the message of struct @st that JSON @v describes.
 * @out: receives a malloc'd, 8-byte aligned buffer of *@len bytes.
 * Return: 0, or -EINVAL with @err naming the field and the problem.
 */
int codec_encode(const struct cstruct *st, const struct json *v, uint8_t **out, uint32_t *len,
		 char *err, size_t cap);

/**
 * codec_print() - print message @msg (@len bytes) of struct @st as JSON
 * (indented when @pretty) to @out.  Nothing is printed unless the whole
 * message is valid.
 * Return: 0, or -EBADMSG with @err naming the field.
 */
int codec_print(FILE *out, const struct cstruct *st, const void *msg, uint32_t len, bool pretty,
		char *err, size_t cap);

#endif /* CELL_CODEC_H */
