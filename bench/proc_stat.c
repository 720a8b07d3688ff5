/*
 * proc_stat.c - run a command N times; print its wall and CPU time (best
 * and median) and its peak resident set, measured by wait4() (no
 * /usr/bin/time needed).
 *
 *   proc_stat N COMMAND [ARGS...]
 *
 * Prints one line: "wall BEST MEDIAN cpu BEST MEDIAN rss KB" (seconds;
 * cpu = user + system of the command, its threads included; rss = the
 * largest ru_maxrss of the runs).  The command's output goes to
 * /dev/null; a run that fails stops the measurement (exit 1).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	int n = argc > 2 ? atoi(argv[1]) : 0;
	double wall[64], cpu[64];
	long rss = 0;

	if (n < 1 || n > 64) {
		fprintf(stderr, "usage: proc_stat N(1-64) COMMAND [ARGS...]\n");
		return 2;
	}
	for (int k = 0; k < n; k++) {
		struct timespec t0, t1;
		struct rusage ru;
		int st;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			int fd = open("/dev/null", O_WRONLY);
			dup2(fd, 1);
			dup2(fd, 2);
			execvp(argv[2], argv + 2);
			_exit(127);
		}
		if (wait4(pid, &st, 0, &ru) < 0) {
			perror("wait4");
			return 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "proc_stat: %s failed (status %d)\n", argv[2], st);
			return 1;
		}
		wall[k] = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
		cpu[k] = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
			 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
		if (ru.ru_maxrss > rss)
			rss = ru.ru_maxrss;
	}
	double wb = wall[0], cb = cpu[0];
	for (int k = 1; k < n; k++) {
		wb = wall[k] < wb ? wall[k] : wb;
		cb = cpu[k] < cb ? cpu[k] : cb;
	}
	printf("wall %.4f %.4f cpu %.4f %.4f rss %ld\n", wb, median(wall, n), cb, median(cpu, n), rss);
	return 0;
}
