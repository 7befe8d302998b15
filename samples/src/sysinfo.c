/* sysinfo: tiny program linked against musl libc only, built by samples/build.sh.
 * It is never run; it gives the OpenWrt-like sample a real musl-linked MIPS ELF. */
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

static const char ident[] = "sysinfo/1.0 (fwaudit sample, musl, compiled here)";

int main(void)
{
    struct utsname u;
    char line[256];
    FILE *f;

    puts(ident);
    if (uname(&u) == 0)
        printf("kernel: %s %s %s\n", u.sysname, u.release, u.machine);
    f = fopen("/etc/openwrt_release", "r");
    if (f) {
        while (fgets(line, sizeof line, f))
            if (strncmp(line, "DISTRIB_DESCRIPTION=", 20) == 0)
                fputs(line, stdout);
        fclose(f);
    }
    return 0;
}
