#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

#include "sha256.h"

#define OCI_PREFIX     "sha256:"
#define OCI_PREFIX_LEN (sizeof(OCI_PREFIX) - 1)

int sha256_init(struct sha256_ctx *c)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	c->evp = NULL;
	if (!ctx)
		return -ENOMEM;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return -EIO;
	}
	c->evp = ctx;
	return 0;
}

int sha256_update(struct sha256_ctx *c, const void *buf, size_t len)
{
	if (!c->evp)
		return -EINVAL;
	return EVP_DigestUpdate(c->evp, buf, len) == 1 ? 0 : -EIO;
}

int sha256_final(struct sha256_ctx *c, uint8_t out[SHA256_LEN])
{
	unsigned int n = 0;
	int ret = 0;

	if (!c->evp)
		return -EINVAL;
	if (EVP_DigestFinal_ex(c->evp, out, &n) != 1 || n != SHA256_LEN)
		ret = -EIO;
	sha256_abort(c);
	return ret;
}

/* Safe on a context that was never set up or is already released, so error
 * paths can call it unconditionally. */
void sha256_abort(struct sha256_ctx *c)
{
	EVP_MD_CTX_free(c->evp);
	c->evp = NULL;
}

int sha256_buf(const void *buf, size_t len, uint8_t out[SHA256_LEN])
{
	unsigned int n = 0;

	/* EVP_Digest allocates its own context: it fails only for lack of
	 * memory or a broken provider, and says neither. */
	if (EVP_Digest(len ? buf : "", len, out, &n, EVP_sha256(), NULL) != 1 ||
	    n != SHA256_LEN)
		return -EIO;
	return 0;
}

char *sha256_oci(const uint8_t d[SHA256_LEN], char *buf)
{
	static const char hex[] = "0123456789abcdef";
	char *p = buf;
	size_t i;

	memcpy(p, OCI_PREFIX, OCI_PREFIX_LEN);
	p += OCI_PREFIX_LEN;
	for (i = 0; i < SHA256_LEN; i++) {
		*p++ = hex[d[i] >> 4];
		*p++ = hex[d[i] & 0xf];
	}
	*p = '\0';
	return buf;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The OCI image spec allows only lowercase hex for sha256, and a digest is
 * compared as a string by registries: accepting "A" would let two spellings
 * of one digest disagree. */
int sha256_parse_oci(const char *s, uint8_t out[SHA256_LEN])
{
	uint8_t d[SHA256_LEN];
	size_t i;

	if (!s || strncmp(s, OCI_PREFIX, OCI_PREFIX_LEN) != 0)
		return -EINVAL;
	s += OCI_PREFIX_LEN;
	for (i = 0; i < SHA256_LEN; i++) {
		int hi = hexval(s[2 * i]);
		int lo = hi < 0 ? -1 : hexval(s[2 * i + 1]);

		if (lo < 0)
			return -EINVAL;
		d[i] = (uint8_t)(hi << 4 | lo);
	}
	if (s[2 * SHA256_LEN] != '\0')
		return -EINVAL;
	memcpy(out, d, SHA256_LEN);
	return 0;
}
