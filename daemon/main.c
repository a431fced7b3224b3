/* SPDX-License-Identifier: MIT */
/* Composition root placeholder. */
#include <stdio.h>

#include "config.h"

int main(void)
{
	printf("ado-clickup-sync %s\n", ACS_VERSION);
	return 0;
}
