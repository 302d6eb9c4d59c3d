/* The floor of a job's start on this machine: N runs of /usr/bin/true, PAR
 * at once, started by a tiny single-threaded C parent — directly
 * (fork+exec, or posix_spawn), or through a minimal intermediate process
 * per job (fork; the child forks and execs `true`, waits for it, exits),
 * which is the least a per-job supervisor can cost. Prints jobs per second
 * and the CPU time per job of the parent and of the children (reaped).
 *
 *   gcc -O2 -o /tmp/spawn_floor bench/spawn_floor.c
 *   /tmp/spawn_floor 4000 8 fork        # fork + exec
 *   /tmp/spawn_floor 4000 8 spawn       # posix_spawn
 *   /tmp/spawn_floor 4000 8 via         # through an intermediate process
 */
#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double seconds(struct timeval user, struct timeval sys) {
  return user.tv_sec + sys.tv_sec + (user.tv_usec + sys.tv_usec) / 1e6;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s N PAR fork|spawn|via\n", argv[0]);
    return 2;
  }
  int n = atoi(argv[1]), par = atoi(argv[2]);
  const char *how = argv[3];
  char *args[] = {"/usr/bin/true", NULL};
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  int started = 0, running = 0, done = 0;
  while (done < n) {
    while (running < par && started < n) {
      pid_t p;
      if (!strcmp(how, "spawn")) {
        posix_spawn(&p, args[0], NULL, NULL, args, environ);
      } else if ((p = fork()) == 0) {
        if (!strcmp(how, "via")) {
          pid_t q = fork();
          if (q == 0) {
            execve(args[0], args, environ);
            _exit(127);
          }
          int status;
          waitpid(q, &status, 0);
          _exit(0);
        }
        execve(args[0], args, environ);
        _exit(127);
      }
      started++;
      running++;
    }
    int status;
    wait(&status);
    running--;
    done++;
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
  struct rusage self, kids;
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &kids);
  printf("%s: %d jobs, %d at once, in %.3f s = %.0f/s; CPU per job: parent %.3f ms, children %.3f ms\n",
         how, n, par, s, n / s, seconds(self.ru_utime, self.ru_stime) * 1e3 / n,
         seconds(kids.ru_utime, kids.ru_stime) * 1e3 / n);
  return 0;
}
