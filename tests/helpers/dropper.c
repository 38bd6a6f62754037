// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * dropper: the "dropped binary" of the integration tests and benchmarks.
 *
 * It has no libc and no startup code of its own beyond a few instructions, so
 * that its very first system call is the one that leaves evidence:
 *
 *   dropper MARKER [MODE [ARGS...]]
 *
 * first act: open(MARKER, O_WRONLY|O_CREAT|O_TRUNC, 0644), write "ran\n",
 * close. A copy that got to run even one system call leaves the marker; a copy
 * killed before its first instruction (in-kernel enforcement) leaves none.
 * Then, by MODE:
 *   (none)                 exit_group(0)
 *   sleep                  nanosleep(1s) forever (a long-lived dropped process)
 *   memfd MARKER2 [MODE2]  copy /proc/self/exe into a memfd and execveat() it
 *                          with argv {argv[0], MARKER2, MODE2...}: a fileless
 *                          exec whose own marker is MARKER2
 *   anything else          exit_group(0)
 * Exit status: 0 done, 1 marker not written, 2 usage, 3 memfd re-exec failed.
 *
 * Build (Makefile): cc -O2 -static -nostdlib -fno-stack-protector -fno-builtin
 */

#if !defined(__x86_64__)
#error "dropper: only x86_64 is supported (raw syscalls and _start are x86_64 asm)"
#endif

#define SYS_read 0
#define SYS_write 1
#define SYS_open 2
#define SYS_close 3
#define SYS_nanosleep 35
#define SYS_sendfile 40
#define SYS_exit_group 231
#define SYS_memfd_create 319
#define SYS_execveat 322

#define O_RDONLY 00
#define O_WRONLY 01
#define O_CREAT 0100
#define O_TRUNC 01000
#define O_CLOEXEC 02000000
#define AT_EMPTY_PATH 0x1000

struct timespec_k {
	long tv_sec;
	long tv_nsec;
};

/*
 * The kernel enters _start with argc at (%rsp), then argv[], NULL, envp[],
 * NULL. Hand that pointer to C; clear %rbp (outermost frame) and keep the
 * stack 16-byte aligned before the call as the ABI requires.
 */
__asm__(".text\n"
	".global _start\n"
	".type _start,@function\n"
	"_start:\n"
	"	xor %ebp, %ebp\n"
	"	mov %rsp, %rdi\n"
	"	and $-16, %rsp\n"
	"	call dropper_main\n"
	"	hlt\n"
	".size _start, .-_start\n");

static long sys1(long n, long a)
{
	long ret;

	__asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a) : "rcx", "r11", "memory");
	return ret;
}

static long sys2(long n, long a, long b)
{
	long ret;

	__asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b) : "rcx", "r11", "memory");
	return ret;
}

static long sys3(long n, long a, long b, long c)
{
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return ret;
}

static long sys4(long n, long a, long b, long c, long d)
{
	long ret;
	register long r10 __asm__("r10") = d;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return ret;
}

static long sys5(long n, long a, long b, long c, long d, long e)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
			 : "rcx", "r11", "memory");
	return ret;
}

static __attribute__((noreturn)) void die(int code)
{
	for (;;)
		sys1(SYS_exit_group, code);
}

static int streq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

/* Fileless re-exec: the same image, run from an anonymous memfd. */
static __attribute__((noreturn)) void reexec_from_memfd(char **argv, char **envp)
{
	long in, mfd, n;

	mfd = sys2(SYS_memfd_create, (long)"dropper", 0);
	if (mfd < 0)
		die(3);
	in = sys3(SYS_open, (long)"/proc/self/exe", O_RDONLY | O_CLOEXEC, 0);
	if (in < 0)
		die(3);
	do {
		n = sys4(SYS_sendfile, mfd, in, 0, 1 << 20);
	} while (n > 0);
	if (n < 0)
		die(3);
	sys1(SYS_close, in);
	/* argv[2] ("memfd") becomes the new argv[0]; argv[3...] follow as is. */
	argv[2] = argv[0];
	sys5(SYS_execveat, mfd, (long)"", (long)&argv[2], (long)envp, AT_EMPTY_PATH);
	die(3);
}

__attribute__((used, noreturn)) void dropper_main(long *sp)
{
	static const char ran[] = "ran\n";
	long argc = sp[0];
	char **argv = (char **)(sp + 1);
	char **envp = argv + argc + 1;
	long fd;

	if (argc < 2)
		die(2);

	/* The first system call: anything that ran at all leaves this marker. */
	fd = sys3(SYS_open, (long)argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die(1);
	if (sys3(SYS_write, fd, (long)ran, sizeof(ran) - 1) != (long)sizeof(ran) - 1)
		die(1);
	sys1(SYS_close, fd);

	if (argc >= 3 && streq(argv[2], "sleep")) {
		struct timespec_k one = { 1, 0 };

		for (;;)
			sys2(SYS_nanosleep, (long)&one, 0);
	}
	if (argc >= 3 && streq(argv[2], "memfd")) {
		if (argc < 4)
			die(2);
		reexec_from_memfd(argv, envp);
	}
	die(0);
}
