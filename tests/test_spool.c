/* placeholder: replaced by the suite of this module */
#include "testutil.h"
int main(void) { return 1; }
