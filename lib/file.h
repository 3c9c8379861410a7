/*
 * file: read a whole small file (settings, secrets, keys, migrations) with a size cap.
 *
 * Not for streaming or large data: the whole content is held in memory.
 */
#ifndef AIMEM_FILE_H
#define AIMEM_FILE_H

#include <stddef.h>

/*
 * Returns the content, NUL-terminated (owned: free it), and its length in *len (the file
 * may itself contain NUL bytes: compare strlen with *len to refuse them). NULL with err
 * ("path: reason") when it cannot be opened or read, or is larger than max bytes.
 */
char *file_read(const char *path, size_t max, size_t *len, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
