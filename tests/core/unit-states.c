/* The lifecycle tables, entry by entry. */
#include <criterion/criterion.h>

#include "src/core/vm.h"

#define S(x) VM_##x

/* every legal transition; everything else must be refused */
static const struct {
	enum vm_state from, to;
} legal[] = {
    {S(DEFINED), S(STARTING)}, {S(DEFINED), S(FAILED)},	   {S(STARTING), S(RUNNING)},
    {S(STARTING), S(PAUSED)},  {S(STARTING), S(STOPPING)}, {S(STARTING), S(STOPPED)},
    {S(STARTING), S(CRASHED)}, {S(STARTING), S(FAILED)},   {S(RUNNING), S(PAUSED)},
    {S(RUNNING), S(STOPPING)}, {S(RUNNING), S(STOPPED)},   {S(RUNNING), S(CRASHED)},
    {S(PAUSED), S(RUNNING)},   {S(PAUSED), S(STOPPING)},   {S(PAUSED), S(STOPPED)},
    {S(PAUSED), S(CRASHED)},   {S(STOPPING), S(STOPPED)},  {S(STOPPING), S(CRASHED)},
    {S(STOPPED), S(STARTING)}, {S(STOPPED), S(FAILED)},	   {S(CRASHED), S(STARTING)},
    {S(CRASHED), S(FAILED)},   {S(FAILED), S(STARTING)},   {S(FAILED), S(FAILED)},
};

Test(states, transition_table_complete)
{
	for (int f = 0; f < VM_NSTATES; f++)
		for (int t = 0; t < VM_NSTATES; t++) {
			bool want = false;
			for (size_t i = 0; i < sizeof(legal) / sizeof(legal[0]); i++)
				want |= legal[i].from == (enum vm_state)f &&
					legal[i].to == (enum vm_state)t;
			cr_expect_eq(vm_transition_legal(f, t), want, "%s -> %s", vm_state_name(f),
				     vm_state_name(t));
		}
	cr_expect_not(vm_transition_legal(VM_NSTATES, VM_RUNNING));
	cr_expect_not(vm_transition_legal(-1, VM_RUNNING));
}

/* rows: ops; columns: states in enum order (1 = allowed, else 409) */
static const char ops_table[VM_NOPS][VM_NSTATES + 1] = {
    /*            def sta run pau sto std cra fai */
    [VM_OP_START] = "10000111",	  [VM_OP_PAUSE] = "00100000", [VM_OP_RESUME] = "00010000",
    [VM_OP_STOP] = "01111000",	  [VM_OP_KILL] = "01111000",  [VM_OP_RESET] = "00110000",
    [VM_OP_DESTROY] = "11111111", [VM_OP_QMP] = "01111000",
};

Test(states, operations_table)
{
	for (int op = 0; op < VM_NOPS; op++)
		for (int s = 0; s < VM_NSTATES; s++)
			cr_expect_eq(vm_op_allowed(s, op), ops_table[op][s] == '1', "%s in %s",
				     vm_op_name(op), vm_state_name(s));
}

Test(states, names_round_trip)
{
	for (int s = 0; s < VM_NSTATES; s++)
		cr_expect_eq(vm_state_parse(vm_state_name(s)), s);
	cr_expect_eq(vm_state_parse("bogus"), -1);
	cr_expect_str_eq(vm_agent_state_name(VM_AGENT_ABSENT), "absent");
	cr_expect_str_eq(vm_agent_state_name(VM_AGENT_CONNECTING), "connecting");
	cr_expect_str_eq(vm_agent_state_name(VM_AGENT_READY), "ready");
	cr_expect(vm_state_has_process(VM_RUNNING));
	cr_expect_not(vm_state_has_process(VM_STOPPED));
}
