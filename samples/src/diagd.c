/* diagd: the router sample's "factory diagnostics daemon", built by
 * samples/build.sh WITHOUT hardening (no stack protector, no PIE, no RELRO,
 * executable stack) and installed setuid root, as a planted problem for the
 * posture checks. It listens on TCP 9999 and echoes one line. Never run. */
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
    struct sockaddr_in a;
    char line[128];
    int s = socket(AF_INET, SOCK_STREAM, 0);

    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(9999);
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 1) != 0)
        return 1;
    for (;;) {
        int c = accept(s, 0, 0);
        ssize_t n = read(c, line, sizeof line);
        if (n > 0 && write(c, line, (size_t)n) < 0)
            n = 0;
        close(c);
    }
}
