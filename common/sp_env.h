/* The environment switches the programs read (SP_CONV_WINOGRAD,
 * SP_PROGRESS, SP_MAX_BYTES, ...): each takes a few values, and any other
 * value is a one-line error naming the variable, never a silent default
 * (a typo in a switch would otherwise measure or test the wrong path). */
#ifndef SP_ENV_H
#define SP_ENV_H

/* The index in choices (NULL-terminated) of the value of the variable
 * name; -1 when it is unset or empty.  Fatal on any other value. */
int sp_env_choice(const char *name, const char *const *choices);

/* The positive integer value of the variable name; dflt when it is unset
 * or empty.  Fatal on anything else (a sign, a suffix, 0, overflow). */
unsigned long long sp_env_positive(const char *name, unsigned long long dflt);

#endif
