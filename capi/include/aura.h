/* aura.h: the same API as auraio.h, under the header name later versions use. */
#include <auraio.h>
