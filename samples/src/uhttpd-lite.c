/* uhttpd-lite: tiny stand-in for OpenWrt's uhttpd, built by samples/build.sh.
 * It is never run; it exists so the sample image has a real MIPS executable
 * whose DT_NEEDED list is libmbedtls/libmbedx509/libmbedcrypto/libz/libc. */
#include <stdio.h>
#include <string.h>
#include <zlib.h>
#include <mbedtls/version.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/entropy.h>
#include <mbedtls/ctr_drbg.h>

static const char ident[] = "uhttpd-lite/1.0 (fwaudit sample, compiled here)";

int main(int argc, char **argv)
{
    char ver[32];
    unsigned char out[256];
    const char *page = "<html><body>It works</body></html>\n";
    mbedtls_ssl_context ssl;
    mbedtls_ssl_config conf;
    mbedtls_x509_crt crt;
    mbedtls_entropy_context ent;
    mbedtls_ctr_drbg_context drbg;
    z_stream zs;
    int rc;

    (void)argc; (void)argv;
    mbedtls_version_get_string_full(ver);
    mbedtls_ssl_init(&ssl);
    mbedtls_ssl_config_init(&conf);
    mbedtls_x509_crt_init(&crt);
    mbedtls_entropy_init(&ent);
    mbedtls_ctr_drbg_init(&drbg);
    rc = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent,
                               (const unsigned char *)"uhttpd", 6);
    if (rc == 0)
        rc = mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_SERVER,
                                         MBEDTLS_SSL_TRANSPORT_STREAM,
                                         MBEDTLS_SSL_PRESET_DEFAULT);
    if (rc == 0) {
        mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
        rc = mbedtls_ssl_setup(&ssl, &conf);
    }

    memset(&zs, 0, sizeof zs);
    deflateInit(&zs, Z_BEST_COMPRESSION);
    zs.next_in = (unsigned char *)page;
    zs.avail_in = (unsigned)strlen(page);
    zs.next_out = out;
    zs.avail_out = sizeof out;
    deflate(&zs, Z_FINISH);
    deflateEnd(&zs);

    printf("%s; %s; zlib %s; tls setup %d; gzip page %lu bytes\n",
           ident, ver, zlibVersion(), rc, (unsigned long)zs.total_out);

    mbedtls_ssl_free(&ssl);
    mbedtls_ssl_config_free(&conf);
    mbedtls_x509_crt_free(&crt);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&ent);
    return rc == 0 ? 0 : 1;
}
