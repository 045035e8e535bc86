/*-------------------------------------------------------------------------
 *
 * standalone.c
 *	  A main() for the fuzz targets without libFuzzer: runs
 *	  LLVMFuzzerTestOneInput once on each file named on the command line
 *	  (or each file of a directory named there).  Used to replay the seed
 *	  corpus under valgrind and to reproduce a finding with a plain build.
 *
 * test/fuzz/standalone.c
 *
 *-------------------------------------------------------------------------
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int	ran;

static int
run_file(const char *path)
{
	FILE	   *f = fopen(path, "rb");
	uint8_t    *buf;
	long		n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0)
	{
		perror(path);
		if (f)
			fclose(f);
		return 1;
	}
	rewind(f);
	buf = malloc((size_t) n + 1);
	if (buf == NULL || fread(buf, 1, (size_t) n, f) != (size_t) n)
	{
		perror(path);
		free(buf);
		fclose(f);
		return 1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t) n);
	free(buf);
	ran++;
	return 0;
}

int
main(int argc, char **argv)
{
	int			bad = 0;

	for (int i = 1; i < argc; i++)
	{
		struct stat st;

		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
		{
			DIR		   *d = opendir(argv[i]);
			struct dirent *e;

			if (d == NULL)
			{
				perror(argv[i]);
				bad++;
				continue;
			}
			while ((e = readdir(d)) != NULL)
			{
				char		path[4096];

				if (e->d_name[0] == '.')
					continue;
				snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
				bad += run_file(path);
			}
			closedir(d);
		}
		else
			bad += run_file(argv[i]);
	}
	printf("%s: %d input(s) ran\n", argv[0], ran);
	return bad ? 2 : 0;
}
