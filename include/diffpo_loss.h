/* diffpo preference losses and their gradients.  Included by diffpo.h. */
#ifndef DIFFPO_LOSS_H
#define DIFFPO_LOSS_H

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif

#endif
