/* list: the one intrusive list of the C core, doubly linked. Owns: linking and unlinking a
 * node, O(1). Must not know: what a node is embedded in (LIST_ENTRY gives the object back).
 * A list is a head node, empty when it points at itself; a node in no list has NULL links, so
 * zero-filled memory is a node in no list, and list_remove is idempotent. */
#ifndef AIMLMUSIC_LIST_H
#define AIMLMUSIC_LIST_H

#include <stddef.h>

#include "hidden.h"

HIDDEN_BEGIN

typedef struct list_node {
  struct list_node *prev, *next;
} list_node;

/* The object of type `type` whose member `member` is the node (or other member) at p. */
#define LIST_ENTRY(p, type, member) ((type *)(void *)((char *)(p)-offsetof(type, member)))
/* Every node of the list at head, first to last; the loop body must not unlink n. */
#define LIST_FOREACH(n, head) for ((n) = (head)->next; (n) != (head); (n) = (n)->next)

static inline void list_init(list_node *head) {
  head->prev = head->next = head;
}

static inline int list_empty(const list_node *head) {
  return head->next == head;
}

/* Whether the node is in a list. */
static inline int list_linked(const list_node *n) {
  return n->next != NULL;
}

/* Appends n (in no list). */
static inline void list_push(list_node *head, list_node *n) {
  n->prev = head->prev;
  n->next = head;
  head->prev->next = n;
  head->prev = n;
}

/* Takes n out of its list; nothing when it is in none. */
static inline void list_remove(list_node *n) {
  if (n->next == NULL) return;
  n->prev->next = n->next;
  n->next->prev = n->prev;
  n->prev = n->next = NULL;
}

/* The first node, or NULL when the list is empty. */
static inline list_node *list_first(const list_node *head) {
  return head->next == head ? NULL : head->next;
}

/* Takes the first node out and returns it, or NULL when the list is empty. */
static inline list_node *list_pop(list_node *head) {
  list_node *n = list_first(head);
  if (n) list_remove(n);
  return n;
}

/* How many nodes the list holds (one step each). */
static inline size_t list_length(const list_node *head) {
  const list_node *n;
  size_t k = 0;
  LIST_FOREACH(n, head)
  k++;
  return k;
}

/* Moves every node of from, in order, to the tail of to; from is left empty. */
static inline void list_move(list_node *to, list_node *from) {
  if (list_empty(from)) return;
  from->next->prev = to->prev;
  from->prev->next = to;
  to->prev->next = from->next;
  to->prev = from->prev;
  list_init(from);
}

HIDDEN_END

#endif
