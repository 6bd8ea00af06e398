/* config.h — reading a Hugging Face config.json into xf_config. */
#ifndef XF_CONFIG_H
#define XF_CONFIG_H

#include "model.h"

/* Parses and validates config.json at `path`. On failure the message names the file. */
xf_status xf_config_load(const char *path, xf_config *c);
void xf_config_free(xf_config *c);

#endif /* XF_CONFIG_H */
