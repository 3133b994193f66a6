"""The Payments docs' Python examples, as written there (only the API host is this server's):
read the signed-in user and their item, spend credits with allow_negative=false, create a
checkout URL. Exits non-zero on the first mismatch.

Env: PORTCULLIS_URL, PROJECT_ID, PUBLISHABLE_CLIENT_KEY, SECRET_SERVER_KEY, ACCESS_TOKEN.
"""
import os
import sys

import requests

API = os.environ["PORTCULLIS_URL"]
stack_project_id = os.environ["PROJECT_ID"]
stack_publishable_client_key = os.environ["PUBLISHABLE_CLIENT_KEY"]
stack_secret_server_key = os.environ["SECRET_SERVER_KEY"]
access_token = os.environ["ACCESS_TOKEN"]


def get_user_item(item_id):
    # Get the current user
    user_response = requests.get(
        f'{API}/api/v1/users/me',
        headers={
            'x-stack-access-type': 'client',
            'x-stack-project-id': stack_project_id,
            'x-stack-publishable-client-key': stack_publishable_client_key,
            'x-stack-access-token': access_token,
        }
    )
    if user_response.status_code != 200:
        return {'error': 'Not authenticated'}, 401
    user_id = user_response.json()['id']
    # Get item quantity
    item_response = requests.get(
        f'{API}/api/v1/payments/items/user/{user_id}/{item_id}',
        headers={
            'x-stack-access-type': 'server',
            'x-stack-project-id': stack_project_id,
            'x-stack-publishable-client-key': stack_publishable_client_key,
            'x-stack-secret-server-key': stack_secret_server_key,
        }
    )
    if item_response.status_code != 200:
        return {'error': 'Failed to get item'}, 500
    item = item_response.json()
    return {
        'display_name': item['display_name'],
        'quantity': item['quantity'],
        'non_negative_quantity': max(0, item['quantity']),
    }, 200


def consume(user_id, item_id, amount):
    # Decrease quantity atomically (allow_negative=false prevents overdraft)
    update_response = requests.post(
        f'{API}/api/v1/payments/items/user/{user_id}/{item_id}/update-quantity',
        headers={
            'x-stack-access-type': 'server',
            'x-stack-project-id': stack_project_id,
            'x-stack-publishable-client-key': stack_publishable_client_key,
            'x-stack-secret-server-key': stack_secret_server_key,
        },
        params={
            'allow_negative': 'false',  # Prevents negative balance
        },
        json={
            'delta': -amount,
        }
    )
    if update_response.status_code == 400:
        return {'error': 'Insufficient balance'}, 400
    return {'success': True}, 200


def create_checkout(user_id, product_id):
    # Create checkout URL
    checkout_response = requests.post(
        f'{API}/api/v1/payments/purchases/create-purchase-url',
        headers={
            'x-stack-access-type': 'server',
            'x-stack-project-id': stack_project_id,
            'x-stack-publishable-client-key': stack_publishable_client_key,
            'x-stack-secret-server-key': stack_secret_server_key,
        },
        json={
            'customer_type': 'user',
            'customer_id': user_id,
            'product_id': product_id,
        }
    )
    return checkout_response.json(), checkout_response.status_code


def check(condition, what):
    if not condition:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)


item, status = get_user_item('credits')
check(status == 200 and item == {'display_name': 'Credits', 'quantity': 3, 'non_negative_quantity': 3}, f"item read: {status} {item}")
user_id = requests.get(f'{API}/api/v1/users/me', headers={'x-stack-access-type': 'client', 'x-stack-project-id': stack_project_id, 'x-stack-access-token': access_token}).json()['id']
check(consume(user_id, 'credits', 2) == ({'success': True}, 200), "spend 2 of 3")
check(consume(user_id, 'credits', 2) == ({'error': 'Insufficient balance'}, 400), "spend 2 of 1 is refused")
item, _ = get_user_item('credits')
check(item['quantity'] == 1, f"balance after spending: {item}")
body, status = create_checkout(user_id, 'credit-pack')
check(status == 200 and '/purchase/' in body['url'], f"checkout URL: {status} {body}")
print("ok")
