/* The reference side of `cargo bench --bench gost`: GOST signature verifications per second
 * with OpenSSL and its GOST engine (loaded through OPENSSL_CONF), on one core.
 * Usage: openssl_verify CERT.pem DATA SIGNATURE DIGEST SECONDS
 * DATA is the signed message (the DER of the signed attributes), SIGNATURE the raw value
 * from the CMS SignerInfo, DIGEST md_gost12_256 | md_gost12_512 | md_gost94.
 * Prints "<verifications per second>" or fails if the first verification does not succeed. */
#include <openssl/conf.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(2); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(n > 0 ? n : 1);
    if (fread(buf, 1, n, f) != (size_t)n) { perror(path); exit(2); }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int verify_once(EVP_PKEY *key, const EVP_MD *md, const unsigned char *data, size_t dlen,
                       const unsigned char *sig, size_t slen) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = EVP_DigestVerifyInit(ctx, NULL, md, NULL, key) == 1 &&
             EVP_DigestVerify(ctx, sig, slen, data, dlen) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

int main(int argc, char **argv) {
    if (argc != 6) { fprintf(stderr, "usage: %s CERT DATA SIG DIGEST SECONDS\n", argv[0]); return 2; }
    OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL);
    FILE *cf = fopen(argv[1], "r");
    if (!cf) { perror(argv[1]); return 2; }
    X509 *cert = PEM_read_X509(cf, NULL, NULL, NULL);
    fclose(cf);
    EVP_PKEY *key = cert ? X509_get_pubkey(cert) : NULL;
    const EVP_MD *md = EVP_get_digestbyname(argv[4]);
    if (!key || !md) { fprintf(stderr, "no key or digest (is the GOST engine loaded?)\n"); return 2; }
    size_t dlen, slen;
    unsigned char *data = slurp(argv[2], &dlen), *sig = slurp(argv[3], &slen);
    if (!verify_once(key, md, data, dlen, sig, slen)) { fprintf(stderr, "reference does not verify\n"); return 1; }
    sig[slen / 2] ^= 1;
    if (verify_once(key, md, data, dlen, sig, slen)) { fprintf(stderr, "tampered copy verifies\n"); return 1; }
    sig[slen / 2] ^= 1;
    double secs = atof(argv[5]), start = now(), elapsed;
    long n = 0;
    do {
        for (int i = 0; i < 20; i++) n += verify_once(key, md, data, dlen, sig, slen);
        elapsed = now() - start;
    } while (elapsed < secs);
    printf("%.1f\n", n / elapsed);
    return 0;
}
