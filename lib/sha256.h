/* sha256: digests over OpenSSL's libcrypto, and their OCI spelling
 * ("sha256:<64 hex>"). Owns nothing but the running state of a digest. */
#ifndef FAASNET_SHA256_H
#define FAASNET_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32
/* "sha256:" + 64 hex digits + NUL */
#define SHA256_OCI_LEN (7 + 64 + 1)

struct sha256_ctx {
	void *evp; /* EVP_MD_CTX, opaque here so callers need no OpenSSL headers
		    */
};

int sha256_init(struct sha256_ctx *c);
int sha256_update(struct sha256_ctx *c, const void *buf, size_t len);
/* Writes the digest and releases the context. */
int sha256_final(struct sha256_ctx *c, uint8_t out[SHA256_LEN]);
/* Releases a context without finishing it (on error paths). */
void sha256_abort(struct sha256_ctx *c);

int sha256_buf(const void *buf, size_t len, uint8_t out[SHA256_LEN]);

/* "sha256:<hex>" into buf (at least SHA256_OCI_LEN bytes). Returns buf. */
char *sha256_oci(const uint8_t d[SHA256_LEN], char *buf);
/* Parses "sha256:<64 lowercase hex>"; -EINVAL otherwise. */
int sha256_parse_oci(const char *s, uint8_t out[SHA256_LEN]);

#endif
