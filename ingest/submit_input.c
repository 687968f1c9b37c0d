/* placeholder: being written */
#include "sipas_err.h"
