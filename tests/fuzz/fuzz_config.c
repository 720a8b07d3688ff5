/*
 * fuzz_config.c - libFuzzer harness for the LightningCLI config reader:
 * arbitrary bytes as a YAML config, merged over a fixed base config as
 * jsonargparse does, then read (callbacks, FTS arguments, optimizer and
 * scheduler).  Nothing may crash, hang, leak or read out of bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "config.h"
#include "diag.h"
#include "fts_stdlib.h"
#include "ir.h"
#include "yaml_front.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char base[] =
	"model:\n  init_args:\n    optimizer_init:\n      class_path: torch.optim.AdamW\n"
	"      init_args: {lr: 1.0e-05}\n"
	"trainer:\n  max_epochs: 10\n  callbacks:\n"
	"  - class_path: finetuning_scheduler.FinetuningScheduler\n    init_args: {max_depth: 1}\n"
	"  - class_path: finetuning_scheduler.FTSCheckpoint\n    init_args: {monitor: val_loss}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fts_stdlib *lib;  /* loaded once: the harness is one process */
	if (!lib)
		lib = fts_stdlib_load();
	struct fts_sources src;
	struct fts_diags d;
	struct fts_arena a;
	fts_sources_init(&src);
	fts_diags_init(&d, &src);
	fts_arena_init(&a);
	uint32_t bf = fts_source_add(&src, "base.yaml", base, sizeof(base) - 1);
	uint32_t cf = fts_source_add(&src, "fuzz.yaml", (const char *)data, size);
	bool empty = false;
	struct fts_node *b = fts_yaml_parse(&a, &d, bf, &empty);
	struct fts_node *c = fts_yaml_parse(&a, &d, cf, &empty);
	if (b && c && d.errors == 0) {
		const struct fts_node *merged = fts_config_merge(&a, b, c);
		struct fts_settings s;
		fts_settings_default(&s);
		struct fts_config out;
		(void)fts_config_load_ex(&a, &d, lib, NULL, 0, merged, &s, &out);
	}
	fts_arena_release(&a);
	fts_diags_release(&d);
	fts_sources_release(&src);
	return 0;
}
